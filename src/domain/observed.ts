/**
 * Observed state as the API shows it: tasks are the engine's real containers.
 * The API reads it through the TaskObserver port; the reconciler implements it.
 */
export type TaskLastStatus = 'PROVISIONING' | 'PENDING' | 'RUNNING' | 'DEPROVISIONING' | 'STOPPED';
export type TargetHealthState = 'initial' | 'healthy' | 'unhealthy' | 'draining' | 'unused';

export interface ObservedTask {
  readonly taskName: string;
  readonly revision: number;
  readonly createdAt: Date;
  readonly desiredStatus: 'RUNNING' | 'STOPPED';
  readonly lastStatus: TaskLastStatus;
  readonly image: string;
  readonly ip: string | null;
  readonly health: TargetHealthState;
  readonly healthDescription: string | null;
  /** The name of the node it runs on; null while not placed. */
  readonly node?: string | null;
  /** The port `ip` serves it on, when not its container port (published on its node). */
  readonly port?: number | null;
  /** Why a pending task does not run yet. */
  readonly waiting?: string | null;
}

export interface LogLine {
  readonly time: Date;
  readonly message: string;
}

export interface TaskLogStream {
  readonly taskName: string;
  readonly createdAt: number;
  readonly lines: readonly { readonly time: Date; readonly message: string }[];
}

export interface TaskObserver {
  tasks(serviceId: number): Promise<ObservedTask[]>;
  /** One stream per task, running and recently stopped, newest task first. */
  logs(serviceId: number, tail: number, streams: number): Promise<TaskLogStream[]>;
  /**
   * Follows the log lines of the service's running tasks, and of tasks that
   * start later, until `signal` aborts.
   */
  followLogs(
    serviceId: number,
    options: { tail: number; signal: AbortSignal; onLine: (taskName: string, line: { time: Date; message: string }) => void },
  ): Promise<void>;
}

/** A task's state (created, running, exited, removing) as servicectl's `last_status`. */
export function lastStatusOf(state: 'created' | 'running' | 'exited' | 'removing'): TaskLastStatus {
  switch (state) {
    case 'running':
      return 'RUNNING';
    case 'created':
      return 'PENDING';
    case 'removing':
      return 'DEPROVISIONING';
    case 'exited':
      return 'STOPPED';
  }
}

/** One attempt's output: from its running task, or as kept once it ended. */
export interface JobLogStream {
  readonly attempt: number;
  readonly taskName: string;
  readonly lines: readonly LogLine[];
}

/** The API's read-only view of a job's output. */
export interface JobLogObserver {
  /** Each attempt's last `tail` lines, oldest attempt first. */
  logs(jobId: number, tail: number): Promise<JobLogStream[]>;
  /**
   * Sends every attempt's output as it is written (the one running, and each one after it),
   * and ends once the job has finished and its output is sent, or when `signal` aborts.
   */
  follow(jobId: number, options: { tail: number; signal: AbortSignal; onLine: (taskName: string, line: LogLine) => void }): Promise<void>;
}
