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

export function lastStatusOf(engineState: string): TaskLastStatus {
  switch (engineState) {
    case 'running':
    case 'paused':
      return 'RUNNING';
    case 'created':
    case 'restarting':
      return 'PENDING';
    case 'removing':
      return 'DEPROVISIONING';
    default:
      return 'STOPPED';
  }
}
