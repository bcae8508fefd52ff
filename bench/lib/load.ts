import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { LoadMessage, LoadSpec, Sample } from './load-client.js';
import { percentile } from './stats.js';

export type { Sample } from './load-client.js';

const ENTRY = join(import.meta.dirname, 'load-client.ts');

export interface RunningLoad {
  /** When the first request was sent (epoch ms, as nowMs()). */
  readonly t0: number;
  /** Every request's outcome, once the last one has finished. */
  readonly done: Promise<Sample[]>;
  /** Ends the load early (its samples are lost). */
  stop(): void;
}

/** Starts the load client process; resolves once it sends its first request. */
export function startLoad(spec: LoadSpec): Promise<RunningLoad> {
  const child = spawn(process.execPath, ['--import', 'tsx', ENTRY, JSON.stringify(spec)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const limitMs = spec.durationMs + spec.timeoutMs + 60_000;
  let resolveDone: (samples: Sample[]) => void = () => undefined;
  let rejectDone: (error: Error) => void = () => undefined;
  const done = new Promise<Sample[]>((resolve, reject) => {
    resolveDone = resolve;
    rejectDone = reject;
  });
  // Whoever stops the load early does not wait for its samples.
  done.catch(() => undefined);
  const timer = setTimeout(() => {
    child.kill('SIGKILL');
    rejectDone(new Error(`load client did not finish within ${limitMs} ms`));
  }, limitMs);
  child.on('exit', (code, signal) => {
    clearTimeout(timer);
    rejectDone(new Error(`load client exited (${code ?? signal}) before reporting`));
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('message', (message: LoadMessage) => {
      if (message.type === 'started') {
        resolve({ t0: message.t0, done, stop: () => child.kill('SIGKILL') });
      } else {
        clearTimeout(timer);
        resolveDone(message.samples);
      }
    });
    child.on('exit', (code, signal) => reject(new Error(`load client exited (${code ?? signal}) before starting`)));
  });
}

export function isFailure(s: Sample): boolean {
  return s[3] !== null || s[2] !== 200;
}

/** Samples whose request started in [from, to). */
export function between(samples: readonly Sample[], from: number, to: number): Sample[] {
  return samples.filter((s) => s[0] >= from && s[0] < to);
}

export interface LoadSummary {
  readonly requests: number;
  readonly failures: number;
  /** Failed requests by cause: status code or error code. */
  readonly causes: Record<string, number>;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

export function summarizeLoad(samples: readonly Sample[]): LoadSummary {
  const causes: Record<string, number> = {};
  let failures = 0;
  for (const s of samples) {
    if (!isFailure(s)) continue;
    failures++;
    const key = s[3] ?? String(s[2]);
    causes[key] = (causes[key] ?? 0) + 1;
  }
  const latencies = samples.filter((s) => !isFailure(s)).map((s) => s[1]);
  return {
    requests: samples.length,
    failures,
    causes,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    max: latencies.length > 0 ? latencies.reduce((m, x) => Math.max(m, x), 0) : Number.NaN,
  };
}
