import type { WaitForOptions } from '../client/index.js';
import type { CliContext, OutputStream } from './context.js';
import { CliError } from './errors.js';
import { createProgress } from './progress.js';

/** Shows each status as it changes while `wait` runs; Ctrl-C stops waiting (what runs goes on on the server). */
export async function waitWith<T>(ctx: CliContext, out: OutputStream, what: string, wait: (options: WaitForOptions) => Promise<T>): Promise<T> {
  const progress = createProgress(out);
  const stop = new AbortController();
  const unsubscribe = ctx.onInterrupt(() => stop.abort());
  try {
    return await wait({ signal: stop.signal, onStatus: (status) => progress.status(`${what}: ${status}`) });
  } catch (error) {
    if (stop.signal.aborted) throw new CliError('BERTH_INTERRUPTED', `Stopped waiting for ${what}; it goes on on the server`);
    throw error;
  } finally {
    unsubscribe();
    progress.stop();
  }
}
