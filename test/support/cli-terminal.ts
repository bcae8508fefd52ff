import { PassThrough } from 'node:stream';
import type { CliContext } from '../../src/cli/context.js';
import { runCli } from '../../src/cli/main.js';

/** An output stream that keeps what was written, as text. */
export class Capture {
  text = '';
  columns = 120;
  constructor(readonly isTTY = false) {}
  write(chunk: string | Uint8Array): boolean {
    this.text += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    return true;
  }
}

export interface FakeTerminal {
  stdin: PassThrough & { isTTY?: boolean };
  stdout: Capture;
  stderr: Capture;
  interrupt(): void;
  ctx: CliContext;
}

/** A CLI context on captured streams; a terminal on both ends when `tty`. */
export function fakeTerminal(argv: readonly string[], env: Record<string, string>, tty = false): FakeTerminal {
  const stdin = Object.assign(new PassThrough(), { isTTY: tty });
  const stdout = new Capture(tty);
  const stderr = new Capture(tty);
  const listeners = new Set<() => void>();
  return {
    stdin,
    stdout,
    stderr,
    interrupt: () => listeners.forEach((l) => l()),
    ctx: {
      argv,
      stdin,
      stdout,
      stderr,
      env,
      onInterrupt(listener) {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
    },
  };
}

export interface CliRun {
  code: number;
  out: string;
  err: string;
}

export async function runIn(t: FakeTerminal): Promise<CliRun> {
  const code = await runCli(t.ctx);
  return { code, out: t.stdout.text, err: t.stderr.text };
}
