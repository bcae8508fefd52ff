/**
 * What tasks use of their machine: memory now and CPU time so far. A port of its own (as
 * TaskExec): only the metrics sampler reads it, and a runtime that cannot tell answers nothing.
 */
export interface TaskUsage {
  readonly memoryBytes: number;
  /** CPU time the task has used since it started. */
  readonly cpuSeconds: number;
}

export interface TaskStats {
  /** Usage of each task that still runs; a task gone meanwhile is left out. */
  usage(ids: readonly string[]): Promise<Map<string, TaskUsage>>;
}
