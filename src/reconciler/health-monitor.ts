import type { HealthCheck } from '../domain/health-check.js';

export interface MonitoredTask {
  readonly task: string;
  readonly host: string;
  readonly port: number;
  /** The full path probed: CONTEXT_ROOT + rel_path. */
  readonly path: string;
  readonly check: HealthCheck;
}

export interface TaskHealth {
  readonly state: 'initial' | 'healthy' | 'unhealthy';
  /** Why the last probe failed; absent while healthy, and while initial until a probe has failed. */
  readonly description?: string;
}

/**
 * Where the reconciler learns whether a running task is healthy. The gateway's
 * active prober implements it; without one, a running task counts as healthy.
 */
export interface HealthMonitor {
  /** The complete set of running tasks to watch; others are forgotten. */
  watch(tasks: readonly MonitoredTask[]): void;
  health(task: string): TaskHealth;
  /**
   * Called whenever a task's state changes other than through `watch`. The reconciler makes
   * its route table again only when something it reads changed, this among them.
   */
  onChange(listener: () => void): void;
  stop(): void;
}

export class RunningIsHealthy implements HealthMonitor {
  private watched = new Set<string>();

  watch(tasks: readonly MonitoredTask[]): void {
    this.watched = new Set(tasks.map((t) => t.task));
  }

  health(task: string): TaskHealth {
    return this.watched.has(task) ? { state: 'healthy' } : { state: 'initial' };
  }

  onChange(): void {}

  stop(): void {}
}
