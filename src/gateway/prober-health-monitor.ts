import type { HealthMonitor, MonitoredTask, TaskHealth } from '../reconciler/health-monitor.js';
import type { HealthProber } from './prober.js';

/** The reconciler's HealthMonitor port, answered by the gateway's active prober. */
export class ProberHealthMonitor implements HealthMonitor {
  constructor(private readonly prober: HealthProber) {}

  watch(tasks: readonly MonitoredTask[]): void {
    this.prober.setTargets(
      tasks.map((t) => ({
        id: t.task,
        host: t.host,
        port: t.port,
        path: t.path,
        statusCodes: t.check.statusCodes,
        intervalSeconds: t.check.intervalSeconds,
      })),
    );
  }

  health(task: string): TaskHealth {
    return this.prober.health(task);
  }

  onChange(listener: () => void): void {
    this.prober.onChange(() => listener());
  }

  stop(): void {
    this.prober.stop();
  }
}
