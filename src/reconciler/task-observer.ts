import { lastStatusOf, type ObservedTask, type TaskLogStream, type TaskObserver } from '../domain/observed.js';
import { isAlive, type LogLine, type TaskRuntime } from '../runtime/task-runtime.js';
import { sleep } from '../process/wait.js';
import type { Store } from '../store/store.js';
import type { ContainerView } from './container-view.js';
import type { HealthMonitor } from './health-monitor.js';
import { ServiceHealth } from './service-health.js';
import { LABEL, readLabels, type LabelledContainer } from './labels.js';
import type { NodeNames } from './node-names.js';

const FOLLOW_DISCOVERY_MS = 1_000;
const FOLLOW_NEW_TASK_TAIL = 1_000;

/** The API's read-only view of a service's real containers, their health and logs. */
export class RuntimeTaskObserver implements TaskObserver {
  private readonly health: ServiceHealth;

  constructor(
    private readonly runtime: TaskRuntime,
    private readonly view: ContainerView,
    private readonly store: Store,
    monitor: HealthMonitor,
    private readonly isStopping: (containerId: string) => boolean,
    private readonly nodes: NodeNames | null = null,
  ) {
    this.health = new ServiceHealth(monitor, store);
  }

  async tasks(serviceId: number): Promise<ObservedTask[]> {
    const service = this.store.services.byId(serviceId);
    if (!service) return [];
    const deploying = this.store.deployments.open(serviceId)[0]?.revision ?? null;
    const containers = await this.containers(serviceId);
    const nodes = await Promise.all(containers.map((c) => this.nodes?.of(c.container) ?? null));
    const nodeOf = new Map(containers.map((c, i) => [c.container.id, nodes[i] ?? null]));
    return containers
      .sort((a, b) => b.container.createdAt.getTime() - a.container.createdAt.getTime())
      .map((c) => {
        const wanted = (c.revision === service.currentRevision || c.revision === deploying) && !this.isStopping(c.container.id);
        const running = c.container.state === 'running';
        const health = this.health.of(this.store.revisions.get(serviceId, c.revision)?.definition ?? null, c);
        const targetHealth = !wanted ? 'draining' : running ? health.state : 'unused';
        return {
          taskName: c.task,
          revision: c.revision,
          createdAt: c.container.createdAt,
          desiredStatus: wanted ? 'RUNNING' : 'STOPPED',
          lastStatus: lastStatusOf(c.container.state),
          image: c.container.image,
          ip: c.container.address,
          health: targetHealth,
          // Also while a new task is initial: what its failing probes get is what a user waits on.
          healthDescription: targetHealth === 'unhealthy' || targetHealth === 'initial' ? (health.description ?? null) : null,
          node: nodeOf.get(c.container.id) ?? null,
          port: c.container.ports && Object.keys(c.container.ports).length > 0 ? (c.container.ports[definitionPort(this.store, c)] ?? null) : null,
          waiting: c.container.state === 'created' ? (c.container.waiting ?? null) : null,
        } satisfies ObservedTask;
      });
  }

  async logs(serviceId: number, tail: number, streams: number): Promise<TaskLogStream[]> {
    const live = (await this.containers(serviceId)).filter((c) => isAlive(c.container));
    const result: TaskLogStream[] = await Promise.all(
      live.map(async (c) => ({
        taskName: c.task,
        createdAt: c.container.createdAt.getTime(),
        lines: await this.runtime.taskLogs(c.container.id, { tail }),
      })),
    );
    const liveNames = new Set(result.map((r) => r.taskName));
    for (const stopped of this.store.taskLogs.list(serviceId, streams)) {
      if (liveNames.has(stopped.taskName)) continue;
      result.push({ taskName: stopped.taskName, createdAt: stopped.createdAt, lines: stopped.lines.slice(-tail) });
    }
    return result.sort((a, b) => b.createdAt - a.createdAt).slice(0, streams);
  }

  async followLogs(
    serviceId: number,
    options: { tail: number; signal: AbortSignal; onLine: (taskName: string, line: LogLine) => void },
  ): Promise<void> {
    const followed = new Set<string>();
    const streams: Promise<void>[] = [];
    let first = true;
    while (!options.signal.aborted) {
      for (const c of await this.containers(serviceId)) {
        if (!isAlive(c.container) || followed.has(c.container.id)) continue;
        followed.add(c.container.id);
        // Tasks that start while following are shown from their first line.
        const tail = first ? options.tail : FOLLOW_NEW_TASK_TAIL;
        // A task removed while followed ends its stream; the others go on.
        streams.push(this.runtime.followTaskLogs(c.container.id, { tail, signal: options.signal, onLine: (line) => options.onLine(c.task, line) }));
      }
      first = false;
      await sleep(FOLLOW_DISCOVERY_MS, options.signal);
    }
    await Promise.all(streams);
  }

  private async containers(serviceId: number): Promise<LabelledContainer[]> {
    const listed = await this.view.matching({ [LABEL.serviceId]: String(serviceId) });
    return listed.map(readLabels).filter((c): c is LabelledContainer => c?.kind === 'service');
  }
}

/** The container port a task's revision serves on. */
function definitionPort(store: Store, task: LabelledContainer): number {
  return store.revisions.get(task.serviceId, task.revision)?.definition.containerPort ?? 0;
}
