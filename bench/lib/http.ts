import { request } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { sleep } from '../../src/process/wait.js';
import { nowMs } from './process.js';

export type GetOutcome = { readonly status: number } | { readonly error: string };

/** One GET (HTTP or HTTPS) on a fresh connection (like curl in a loop); never throws. */
export function get(url: string, timeoutMs: number): Promise<GetOutcome> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (outcome: GetOutcome): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      req.destroy();
      resolve(outcome);
    };
    // The bench measures, it does not check certificates: HTTPS takes whatever the server sends.
    const req = url.startsWith('https:')
      ? httpsRequest(url, { agent: false, headers: { Connection: 'close' }, rejectUnauthorized: false })
      : request(url, { agent: false, headers: { Connection: 'close' } });
    const timer = setTimeout(() => finish({ error: 'timeout' }), timeoutMs);
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => finish({ status: res.statusCode ?? 0 }));
      res.on('error', (error) => finish({ error: error.message }));
    });
    req.on('error', (error) => finish({ error: (error as NodeJS.ErrnoException).code ?? error.message }));
    req.end();
  });
}

export interface PollResult {
  /** nowMs() when the first 200 arrived. */
  readonly okAt: number;
  readonly attempts: number;
  /** What the attempts before it got: status codes and error codes, with counts. */
  readonly before: Record<string, number>;
}

/** GETs url every intervalMs until it answers 200; bounded by timeoutMs. */
export async function pollUntilOk(url: string, options: { intervalMs: number; timeoutMs: number; requestTimeoutMs?: number }): Promise<PollResult> {
  const deadline = nowMs() + options.timeoutMs;
  const before: Record<string, number> = {};
  let attempts = 0;
  while (nowMs() < deadline) {
    attempts++;
    const outcome = await get(url, options.requestTimeoutMs ?? 1_000);
    if ('status' in outcome && outcome.status === 200) return { okAt: nowMs(), attempts, before };
    const key = 'status' in outcome ? String(outcome.status) : outcome.error;
    before[key] = (before[key] ?? 0) + 1;
    await sleep(options.intervalMs);
  }
  throw new Error(`${url} did not answer 200 within ${options.timeoutMs} ms (got ${JSON.stringify(before)})`);
}

/**
 * Starts a GET every intervalMs without waiting for the earlier ones, until one answers 200
 * and `accept` agrees it comes from the recovered side. A request that hangs (a SYN sent to
 * an address nobody answers any more waits for its 1 s retransmit) does not hold the next
 * ones back, so this finds the first moment a new client is served.
 */
export function pollConcurrentlyUntilOk(
  url: string,
  options: { intervalMs: number; timeoutMs: number; requestTimeoutMs: number; maxInFlight?: number; accept?: () => Promise<boolean> },
): Promise<PollResult> {
  const deadline = nowMs() + options.timeoutMs;
  const before: Record<string, number> = {};
  const maxInFlight = options.maxInFlight ?? 100;
  let attempts = 0;
  let inFlight = 0;
  let settled = false;
  return new Promise((resolve, reject) => {
    const timer = setInterval(() => {
      if (settled) return;
      if (nowMs() > deadline) {
        settled = true;
        clearInterval(timer);
        reject(new Error(`${url} did not answer 200 within ${options.timeoutMs} ms (got ${JSON.stringify(before)})`));
        return;
      }
      if (inFlight >= maxInFlight) return;
      attempts++;
      inFlight++;
      void get(url, options.requestTimeoutMs).then(async (outcome) => {
        inFlight--;
        const okAt = nowMs();
        if (settled) return;
        if ('status' in outcome && outcome.status === 200 && (!options.accept || (await options.accept()))) {
          if (settled) return;
          settled = true;
          clearInterval(timer);
          resolve({ okAt, attempts, before });
          return;
        }
        const key = 'status' in outcome ? String(outcome.status) : outcome.error;
        before[key] = (before[key] ?? 0) + 1;
      });
    }, options.intervalMs);
  });
}
