import { createInterface } from 'node:readline';
import { canPrompt, type CliContext } from './context.js';
import { CliError, UsageError } from './errors.js';

/** Unattended terminals answer "no" after this long rather than blocking for ever. */
const ANSWER_TIMEOUT_MS = 5 * 60_000;

/**
 * Asks a yes/no question on stderr (stdout stays the command's data) and
 * reads one line of answer from stdin. Anything but y/yes is no; so are end
 * of input, `signal` aborting (a second Ctrl-C) and no answer within five
 * minutes. The terminal stays in its normal line mode, so it echoes and
 * edits the answer itself.
 */
export function confirm(ctx: CliContext, question: string, signal?: AbortSignal): Promise<boolean> {
  ctx.stderr.write(`${question} [y/N] `);
  const rl = createInterface({ input: ctx.stdin, terminal: false });
  return new Promise<boolean>((resolve) => {
    let settled = false;
    const finish = (answer: boolean, newline: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      rl.close();
      if (newline) ctx.stderr.write('\n');
      resolve(answer);
    };
    const onAbort = (): void => finish(false, true);
    const timer = setTimeout(() => finish(false, true), ANSWER_TIMEOUT_MS);
    timer.unref();
    signal?.addEventListener('abort', onAbort);
    if (signal?.aborted) onAbort();
    rl.once('line', (answer) => finish(/^\s*y(es)?\s*$/i.test(answer), false));
    rl.once('close', () => finish(false, true));
  });
}

/** Asks on a terminal; without one, only --yes goes ahead. */
export async function confirmOrRefuse(ctx: CliContext, yes: boolean | undefined, question: string, noTerminal: string, declined: string): Promise<void> {
  if (yes) return;
  if (!canPrompt(ctx)) throw new UsageError(noTerminal);
  if (!(await confirm(ctx, question))) throw new CliError('BERTH_ABORTED', declined);
}
