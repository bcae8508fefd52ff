import type { ServiceDefinition } from '../domain/definition.js';
import type { Service } from '../domain/model.js';
import type { Store } from '../store/store.js';
import type { HealthMonitor, TaskHealth } from './health-monitor.js';
import type { LabelledContainer } from './labels.js';
import type { DependencyVerdict } from './service-steps.js';

const HEALTHY: TaskHealth = { state: 'healthy' };
const STARTING: TaskHealth = { state: 'initial' };

/**
 * Where a task's health comes from. A plain service's tasks, and a routed stack service's
 * without a health check of its own, are probed by berth over HTTP; a task whose image or
 * compose file has a health check is judged by the engine running it; any other stack task
 * is healthy while it runs.
 */
export class ServiceHealth {
  constructor(
    private readonly monitor: HealthMonitor,
    private readonly store: Store,
  ) {}

  /** Whether berth's prober checks the service's tasks. */
  probed(definition: ServiceDefinition, task: LabelledContainer): boolean {
    const stack = definition.stack;
    if (stack === null) return true;
    return stack.routed && stack.healthcheck === null && task.container.health === null;
  }

  of(definition: ServiceDefinition | null, task: LabelledContainer): TaskHealth {
    if (definition === null || this.probed(definition, task)) return this.monitor.health(task.task);
    switch (task.container.health) {
      case 'healthy':
        return HEALTHY;
      case 'unhealthy':
        return { state: 'unhealthy', description: 'its health check fails' };
      case 'starting':
        return { state: 'initial', description: 'its health check has not passed yet' };
      default:
        return task.container.state === 'running' ? HEALTHY : STARTING;
    }
  }

  /**
   * Whether compose's depends_on lets the service start: each dependency started, healthy or
   * completed as asked. A dependency that ended badly fails the start; one that is not there
   * yet, or still starting, makes it wait.
   */
  dependencies(
    service: Service,
    definition: ServiceDefinition,
    tasksOf: (serviceId: number) => readonly LabelledContainer[],
    definitionOf: (serviceId: number, revision: number) => ServiceDefinition | null,
  ): DependencyVerdict {
    for (const dependency of definition.stack?.dependsOn ?? []) {
      const other = this.store.services.find(service.project, dependency.service);
      const label = dependency.service.slice((definition.stack?.stack.length ?? -1) + 1);
      if (!other || other.status === 'DRAINING') return { ready: false, failed: false, why: `waiting for ${label} to exist` };
      if (dependency.condition === 'service_completed_successfully') {
        if (other.desiredState === 'completed') continue;
        if (other.desiredState === 'exited') return { ready: false, failed: true, why: `${label} exited with an error before it completed` };
        return { ready: false, failed: false, why: `waiting for ${label} to complete` };
      }
      const running = tasksOf(other.id).filter((t) => t.container.state === 'running');
      if (other.desiredState === 'completed' && dependency.condition === 'service_started') continue;
      if (running.length === 0) return { ready: false, failed: false, why: `waiting for ${label} to start` };
      if (dependency.condition === 'service_healthy') {
        const healthy = running.some((t) => this.of(definitionOf(other.id, t.revision), t).state === 'healthy');
        if (!healthy) return { ready: false, failed: false, why: `waiting for ${label} to be healthy` };
      }
    }
    return { ready: true };
  }
}
