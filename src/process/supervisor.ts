/**
 * A child process berth keeps alive: nginx and the registry. The process
 * outlives the server on purpose (the gateway keeps serving while berth
 * restarts), so a new server adopts it through its pid file instead of
 * starting a second one.
 */
export interface SupervisorOptions {
  /** Short name for logs and errors, e.g. "nginx". */
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  /** Where the running process's pid is kept; the process may write it itself (nginx does). */
  readonly pidFile: string;
  /** True when the process writes pidFile itself; otherwise the supervisor writes it (atomically). */
  readonly writesOwnPidFile: boolean;
  /** Resolves when the process answers (e.g. a TCP connect); bounded by readyTimeoutMs. */
  readonly ready: () => Promise<boolean>;
  readonly readyTimeoutMs: number;
  /** Appended to with the process's stdout and stderr. */
  readonly logFile: string;
  readonly env?: Readonly<Record<string, string>>;
}

export interface Supervisor {
  /** Adopts a live process from the pid file, or spawns one; resolves when ready. */
  start(): Promise<void>;
  /** Called after every (re)start or adoption, e.g. to give the process back state it lost. */
  onReady(listener: () => void): void;
  /** Stops watching; the process keeps running for the next server to adopt. */
  detach(): Promise<void>;
  /** Stops watching and terminates the process (SIGTERM, then SIGKILL after a grace period). */
  stop(): Promise<void>;
  /** Sends a signal to the live process (e.g. SIGHUP for an nginx reload). */
  signal(signal: NodeJS.Signals): void;
  pid(): number | null;
}
