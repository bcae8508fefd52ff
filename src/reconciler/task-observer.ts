import { lastStatusOf, type ObservedTask, type TaskLogStream, type TaskObserver } from '../domain/observed.js';
import type { ContainerRuntime } from '../runtime/container-runtime.js';
import type { Store } from '../store/store.js';
import type { HealthMonitor } from './health-monitor.js';
import { isAlive, LABEL, readLabels, type LabelledContainer } from './labels.js';

/** The API's read-only view of a service's real containers, their health and logs. */
export class RuntimeTaskObserver implements TaskObserver {
  constructor(
    private readonly runtime: ContainerRuntime,
    private readonly store: Store,
    private readonly health: HealthMonitor,
    private readonly instance: string,
    private readonly isStopping: (containerId: string) => boolean,
  ) {}

  async tasks(serviceId: number): Promise<ObservedTask[]> {
    const service = this.store.services.byId(serviceId);
    if (!service) return [];
    const deploying = this.store.deployments.open(serviceId)[0]?.revision ?? null;
    const containers = await this.containers(serviceId);
    return containers
      .sort((a, b) => b.container.createdAt.getTime() - a.container.createdAt.getTime())
      .map((c) => {
        const wanted = (c.revision === service.currentRevision || c.revision === deploying) && !this.isStopping(c.container.id);
        const running = c.container.state === 'running';
        const health = this.health.health(c.task);
        const targetHealth = !wanted ? 'draining' : running ? health.state : 'unused';
        return {
          taskName: c.task,
          revision: c.revision,
          createdAt: c.container.createdAt,
          desiredStatus: wanted ? 'RUNNING' : 'STOPPED',
          lastStatus: lastStatusOf(c.container.state),
          image: c.container.image,
          ip: c.container.ip,
          health: targetHealth,
          healthDescription: targetHealth === 'unhealthy' ? (health.description ?? null) : null,
        } satisfies ObservedTask;
      });
  }

  async logs(serviceId: number, tail: number, streams: number): Promise<TaskLogStream[]> {
    const live = (await this.containers(serviceId)).filter((c) => isAlive(c.container));
    const result: TaskLogStream[] = await Promise.all(
      live.map(async (c) => ({
        taskName: c.task,
        createdAt: c.container.createdAt.getTime(),
        lines: await this.runtime.logs(c.container.id, { tail }),
      })),
    );
    const liveNames = new Set(result.map((r) => r.taskName));
    for (const stopped of this.store.taskLogs.list(serviceId, streams)) {
      if (liveNames.has(stopped.taskName)) continue;
      result.push({ taskName: stopped.taskName, createdAt: stopped.createdAt, lines: stopped.lines.slice(-tail) });
    }
    return result.sort((a, b) => b.createdAt - a.createdAt).slice(0, streams);
  }

  private async containers(serviceId: number): Promise<LabelledContainer[]> {
    const listed = await this.runtime.list({ [LABEL.instance]: this.instance, [LABEL.serviceId]: String(serviceId) });
    return listed.map(readLabels).filter((c): c is LabelledContainer => c !== null);
  }
}
