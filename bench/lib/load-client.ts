/**
 * A fixed-rate HTTP load generator in a process of its own (so it does not share an event
 * loop or a core's time slice with what it measures). Open loop: request i is sent at
 * t0 + i/rate whatever happened to the earlier ones. Keep-alive connections, no retries:
 * every socket error, timeout and non-200 is a failed request.
 *
 * Started by runLoad (bench/lib/load.ts) with a JSON LoadSpec as its argument; reports
 * {type: 'started'} and then {type: 'done', samples} over IPC.
 */
import { Agent, request } from 'node:http';

export interface LoadSpec {
  readonly url: string;
  /** Requests per second. */
  readonly rate: number;
  readonly durationMs: number;
  /** Connections at most; a request waits for a free one (that wait counts in its latency). */
  readonly maxSockets: number;
  readonly timeoutMs: number;
}

/** One request: start (epoch ms), latency (ms), status (0 on error), error code or null. */
export type Sample = readonly [start: number, latencyMs: number, status: number, error: string | null];

export type LoadMessage = { readonly type: 'started'; readonly t0: number } | { readonly type: 'done'; readonly samples: Sample[] };

function now(): number {
  return performance.timeOrigin + performance.now();
}

function main(): void {
  const spec = JSON.parse(process.argv[2] ?? '{}') as LoadSpec;
  const agent = new Agent({ keepAlive: true, maxSockets: spec.maxSockets, maxFreeSockets: spec.maxSockets, scheduling: 'fifo' });
  const total = Math.round((spec.rate * spec.durationMs) / 1000);
  const samples: Sample[] = [];
  let sent = 0;
  let finished = 0;
  const t0 = now();

  const fire = (): void => {
    const start = now();
    let done = false;
    const record = (status: number, error: string | null): void => {
      if (done) return;
      done = true;
      samples.push([start, now() - start, status, error]);
      finished++;
      if (finished === total) complete();
    };
    const req = request(spec.url, { agent, headers: { 'User-Agent': 'berth-bench-load' } });
    req.setTimeout(spec.timeoutMs, () => {
      record(0, 'timeout');
      req.destroy();
    });
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => record(res.statusCode ?? 0, null));
      res.on('error', (error) => record(0, (error as NodeJS.ErrnoException).code ?? error.message));
    });
    req.on('error', (error) => record(0, (error as NodeJS.ErrnoException).code ?? error.message));
    req.end();
  };

  const complete = (): void => {
    agent.destroy();
    process.send?.({ type: 'done', samples } satisfies LoadMessage, () => process.exit(0));
  };

  const tick = (): void => {
    const due = Math.min(total, Math.floor(((now() - t0) * spec.rate) / 1000) + 1);
    while (sent < due) {
      sent++;
      fire();
    }
    if (sent < total) setTimeout(tick, 1);
  };
  process.send?.({ type: 'started', t0 } satisfies LoadMessage);
  tick();
}

main();
