/**
 * Running a command in a task that runs (`compose exec`): a port of its own, apart from
 * TaskRuntime, because only the API uses it and not every runtime can (a remote node's
 * task may be out of reach).
 */

/** Which of the process's streams a chunk of its output came from; with a TTY, everything is stdout. */
export type OutputChannel = 1 | 2;

export interface ExecOptions {
  readonly command: readonly string[];
  /** A terminal: stdout and stderr as one stream, the process sees a TTY of this size. */
  readonly tty: boolean;
  readonly columns?: number;
  readonly rows?: number;
}

export interface ExecSession {
  write(data: Buffer): void;
  /** The process sees the end of its stdin. */
  closeStdin(): void;
  resize(columns: number, rows: number): Promise<void>;
  onOutput(listener: (channel: OutputChannel, data: Buffer) => void): void;
  /** The exit code once the process has ended (null when the runtime could not tell). */
  readonly done: Promise<number | null>;
  /** Ends the session from this side (the client went away). */
  close(): void;
}

export interface TaskExec {
  /** Runs the command in the one running task carrying all of `labels`; null when none runs. */
  exec(labels: Readonly<Record<string, string>>, options: ExecOptions): Promise<ExecSession | null>;
}
