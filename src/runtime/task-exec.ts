/**
 * Commands run inside a task that runs, beside its own process: interactive sessions
 * (`compose exec`) and streamed commands whose input and output berth feeds and reads (a
 * database's dump and restore). A port of its own, apart from TaskRuntime, because not every
 * runtime can (a remote node's task may be out of reach). One adapter implements both ways
 * on one mechanism.
 */

import type { Readable, Writable } from 'node:stream';

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

/** A command whose streams berth handles itself, no terminal. */
export interface CommandOptions {
  readonly command: readonly string[];
  /** NAME=VALUE entries added to the task's environment for this command only (passwords stay off the command line). */
  readonly env?: readonly string[];
  /** Fed to the command's standard input, which is closed at its end; without it the command reads nothing. */
  readonly stdin?: Readable;
  /** Receives the command's standard output, with backpressure, and is ended once all of it is written; without it the output is returned (up to 1 MiB). */
  readonly stdout?: Writable;
  /** Ends the command's stream (the command itself may run on to its end inside the task). */
  readonly signal?: AbortSignal;
}

export interface CommandResult {
  readonly exitCode: number;
  /** The output when no `stdout` was given, else empty. */
  readonly stdout: string;
  /** The last few KiB of the command's standard error. */
  readonly stderr: string;
}

export interface TaskExec {
  /** Runs the command in the one running task carrying all of `labels`; null when none runs. */
  exec(labels: Readonly<Record<string, string>>, options: ExecOptions): Promise<ExecSession | null>;
  /** Runs a command in the running task `taskId` and answers how it ended. */
  run(taskId: string, options: CommandOptions): Promise<CommandResult>;
}
