/** A stream the CLI writes to; `isTTY` and `columns` are what Node's tty.WriteStream adds. */
export interface OutputStream {
  write(text: string | Uint8Array): unknown;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

export type InputStream = NodeJS.ReadableStream & { readonly isTTY?: boolean };

/**
 * Everything a command touches outside its arguments. `main` passes the
 * process's streams, environment and SIGINT; tests pass their own.
 */
export interface CliContext {
  /** The user's arguments, without node and the script. */
  readonly argv: readonly string[];
  readonly stdout: OutputStream;
  readonly stderr: OutputStream;
  readonly stdin: InputStream;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Subscribes to Ctrl-C; returns the unsubscribe function. While subscribed, Ctrl-C does not end the process. */
  onInterrupt(listener: () => void): () => void;
}

/** A person can answer a question: both the keyboard and the place the question is written are terminals. */
export function canPrompt(ctx: CliContext): boolean {
  return Boolean(ctx.stdin.isTTY && ctx.stderr.isTTY);
}

export function processContext(): CliContext {
  return {
    argv: process.argv.slice(2),
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env: process.env,
    onInterrupt(listener) {
      process.on('SIGINT', listener);
      return () => process.off('SIGINT', listener);
    },
  };
}
