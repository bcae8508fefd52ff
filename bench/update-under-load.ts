import { definition, type Api } from './lib/api.js';
import { BenchServer, waitServing } from './lib/bench-server.js';
import type { BenchContext } from './lib/context.js';
import { HELLO_IMAGE, UPSTREAM_IMAGE } from './lib/images.js';
import { between, startLoad, summarizeLoad, type Sample } from './lib/load.js';
import { sleep } from '../src/process/wait.js';
import { nowMs } from './lib/process.js';
import { paired } from './lib/stats.js';

// Ports 17610-17613.
const BASE_PORT = 17610;
const RATE = 500;
const BEFORE_MS = 4_000;
const AFTER_MS = 2_000;
/** Enough for the deployment to finish: start, health, switch, drain (2 s), stop. */
const UPDATE_BUDGET_MS = 12_000;
const SLOW_MS = 200;

export interface UpdateOptions {
  readonly runs: number;
}

interface UpdateRun {
  readonly switchMs: number;
  readonly failures: number;
  readonly failuresDuring: number;
  readonly causes: Record<string, number>;
  readonly requests: number;
  readonly p99Before: number;
  readonly p99During: number;
  readonly p50Before: number;
  readonly p50During: number;
  /** Requests slower than SLOW_MS: when they started (ms after the PUT) and how long they took. */
  readonly slow: { readonly at: number; readonly ms: number }[];
  /** The deployment's events, ms after the PUT. */
  readonly timeline: { readonly at: number; readonly message: string }[];
}

/**
 * A steady 500 req/s (open loop, keep-alive, no retries) through the gateway while a new
 * revision is deployed. Per run: failed requests (socket errors, timeouts, non-200s) over
 * the whole load, p99 while the deployment runs (PUT → succeeded) against p99 in the
 * seconds before it, and the switch time. Server defaults for drain (2 s) and stop grace.
 *
 * The timed runs use the keep-alive upstream (nginx): busybox httpd takes a new connection
 * per request, and at this rate on two shared cores it drops SYNs now and then, which
 * shows as 1 s (the SYN retransmit) latencies with or without a proxy in front. Two more
 * runs with the busybox demo image count failures on that path (a new upstream connection
 * per request, so any connection to a stopped task would show).
 */
export async function runUpdateUnderLoad(ctx: BenchContext, options: UpdateOptions): Promise<void> {
  await ctx.scoped(async (scope) => {
    ctx.log('update: starting a server');
    const server = await BenchServer.start({ basePort: BASE_PORT });
    scope.defer('update server', () => server.destroy());
    const api = await server.admin.project('bench');

    const keepAlive = await updates(ctx, api, server, 'web', UPSTREAM_IMAGE, options.runs);
    const busybox = await updates(ctx, api, server, 'bb', HELLO_IMAGE, 2);
    ctx.raw.update = { keepAlive, busybox };
    ctx.record({
      bench: 'update',
      name: `failed requests at ${RATE} req/s during an update`,
      unit: 'requests',
      values: [...keepAlive, ...busybox].map((r) => r.failures),
      goal: { kind: 'value-max', limit: 0 },
      note: 'socket errors, timeouts and non-200s over each whole load run; the worst run decides',
    });
    ctx.record({
      bench: 'update',
      name: 'p99 latency during the update',
      unit: 'ms',
      values: keepAlive.map((r) => r.p99During),
      baseline: keepAlive.map((r) => r.p99Before),
      comparisons: paired(keepAlive.map((r) => r.p99During), keepAlive.map((r) => r.p99Before), (x, y) => x / y),
      goal: { kind: 'info' },
      note: 'baseline: p99 in the 4 s before the PUT, same run',
    });
    ctx.record({
      bench: 'update',
      name: 'switch time (PUT → deployment succeeded)',
      unit: 'ms',
      values: keepAlive.map((r) => r.switchMs),
      goal: { kind: 'info' },
      note: 'includes the 2 s drain and stopping the old task',
    });
  });
}

async function updates(ctx: BenchContext, api: Api, server: BenchServer, name: string, image: string, count: number): Promise<UpdateRun[]> {
  await api.createService(name, { rel_path: '/health', interval: 1 });
  const first = await api.deploy(name, definition({ image, environment: [{ name: 'GREETING', value: 'rev-0' }] }));
  const done = await api.waitDeployment(name, first, 60_000);
  if (done.step !== 'succeeded') throw new Error(`first deployment of ${name} ended ${done.step}: ${done.reason}`);
  await waitServing(server.gatewayUrl, `/bench-${name}/`);
  const runs: UpdateRun[] = [];
  for (let i = 1; i <= count; i++) {
    const load = await startLoad({
      url: `${server.gatewayUrl}/bench-${name}/`,
      rate: RATE,
      durationMs: BEFORE_MS + UPDATE_BUDGET_MS + AFTER_MS,
      maxSockets: 64,
      timeoutMs: 5_000,
    });
    await sleep(Math.max(0, load.t0 + BEFORE_MS - nowMs()));
    const putAt = nowMs();
    const putWall = Date.now();
    const id = await api.deploy(name, definition({ image, environment: [{ name: 'GREETING', value: `rev-${i}` }] }));
    const doc = await api.waitDeployment(name, id, UPDATE_BUDGET_MS, 20);
    const doneAt = nowMs();
    if (doc.step !== 'succeeded') throw new Error(`deployment ${id} of ${name} ended ${doc.step}: ${doc.reason}`);
    const samples = await load.done;
    const timeline = (await api.events(name))
      .map((e) => ({ at: Date.parse(e.created_at) - putWall, message: e.message }))
      .filter((e) => e.at >= 0)
      .reverse();
    const run = analyse(samples, load.t0, putAt, doneAt, timeline);
    runs.push(run);
    ctx.log(
      `update: ${image} run ${i}: switch ${run.switchMs.toFixed(0)} ms, ${run.requests} requests, ${run.failures} failed ${JSON.stringify(run.causes)}, p99 before ${run.p99Before.toFixed(2)} ms, during ${run.p99During.toFixed(2)} ms`,
    );
    if (run.slow.length > 0) {
      ctx.log(`update: requests slower than ${SLOW_MS} ms (started ms after the PUT: took ms): ${run.slow.slice(0, 12).map((x) => `${x.at}: ${x.ms}`).join(', ')}`);
    }
  }
  return runs;
}

function analyse(samples: readonly Sample[], t0: number, putAt: number, doneAt: number, timeline: UpdateRun['timeline']): UpdateRun {
  const all = summarizeLoad(samples);
  // The first half second opens connections; it is not the steady state.
  const before = summarizeLoad(between(samples, t0 + 500, putAt));
  const during = summarizeLoad(between(samples, putAt, doneAt));
  return {
    switchMs: doneAt - putAt,
    failures: all.failures,
    failuresDuring: during.failures,
    causes: all.causes,
    requests: all.requests,
    p99Before: before.p99,
    p99During: during.p99,
    p50Before: before.p50,
    p50During: during.p50,
    slow: samples
      .filter((s) => s[1] > SLOW_MS)
      .slice(0, 100)
      .map((s) => ({ at: Math.round(s[0] - putAt), ms: Math.round(s[1]) })),
    timeline,
  };
}
