import { BASE_CAPABILITIES, type ServiceDefinition } from '../domain/definition.js';
import { startedTasks, taskExited } from '../domain/messages.js';
import type { Clock, Service } from '../domain/model.js';
import { contextRoot } from '../domain/names.js';
import type { ContainerRuntime, ContainerSpec } from '../runtime/container-runtime.js';
import type { Store } from '../store/store.js';
import type { ContainerView } from './container-view.js';
import type { FaultPoints } from './fault-points.js';
import { containerName, newTaskName, projectNetwork, taskLabels, type LabelledContainer } from './labels.js';

const MiB = 1024 * 1024;

export interface TaskOpsOptions {
  readonly instance: string;
  readonly logLinesKept: number;
  readonly logMaxBytes: number;
  readonly stopGraceMs: number;
}

/**
 * What the reconciler does to one task's container. Each operation is safe to
 * repeat: a crash between any two lines leaves state the next pass finishes.
 * Each change is recorded in the container view when the engine confirms it, so the
 * pass that made it sees it without waiting for the engine's event.
 */
export class TaskOps {
  /** Containers berth has sent SIGTERM, and when: their exit is expected, not a crash. */
  private readonly stopping = new Map<string, number>();
  /** Counts container changes, so a pass knows whether to look at the engine again. */
  changes = 0;
  /** Project networks known to exist: ensured once, not before every task. */
  private readonly networks = new Set<string>();

  constructor(
    private readonly runtime: ContainerRuntime,
    private readonly containers: ContainerView,
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly options: TaskOpsOptions,
    private readonly faults: FaultPoints,
  ) {}

  isStopping(containerId: string): boolean {
    return this.stopping.has(containerId);
  }

  /** Creates and starts `count` tasks of a revision; records one event for them. */
  async startTasks(
    service: Service,
    revision: number,
    definition: ServiceDefinition,
    image: string,
    count: number,
    deploymentId: number | null,
  ): Promise<void> {
    const names: string[] = [];
    const network = await this.ensureNetwork(service.project);
    for (let i = 0; i < count; i++) {
      const task = newTaskName(service.name);
      const id = await this.createIn(network, {
        name: containerName(this.options.instance, service.project, task),
        image,
        labels: taskLabels({
          instance: this.options.instance,
          project: service.project,
          service: service.name,
          serviceId: service.id,
          revision,
          task,
          reservationMiB: definition.memoryReservationMiB,
        }),
        env: [
          ...definition.environment.map((e) => `${e.name}=${e.value}`),
          `CONTEXT_ROOT=${contextRoot(service.project, service.name)}`,
        ],
        command: definition.command,
        memoryLimitBytes: definition.memoryLimitMiB * MiB,
        memoryReservationBytes: definition.memoryReservationMiB * MiB,
        logMaxBytes: this.options.logMaxBytes,
        network,
        capabilities: [...BASE_CAPABILITIES, ...definition.capAdd],
        pidsLimit: definition.pidsLimit,
        cpuLimit: definition.cpuLimit,
      });
      this.changes++;
      // In the view before the start: if the start fails, the next pass must see this task, not create another.
      await this.containers.refresh(id);
      this.faults.hit('task:created');
      await this.start(id);
      names.push(task);
    }
    if (names.length > 0) this.store.events.add(service.id, startedTasks(names), deploymentId);
  }

  private async ensureNetwork(project: string): Promise<string> {
    const network = projectNetwork(this.options.instance, project);
    if (!this.networks.has(network.name)) {
      await this.runtime.ensureNetwork(network);
      this.networks.add(network.name);
    }
    return network.name;
  }

  /** Creates a container; a network removed behind berth's back is made again on the next pass. */
  private async createIn(network: string, spec: ContainerSpec): Promise<string> {
    try {
      return await this.runtime.create(spec);
    } catch (error) {
      this.networks.delete(network);
      throw error;
    }
  }

  /** Starts a created container. */
  async start(id: string): Promise<void> {
    await this.runtime.start(id);
    this.changes++;
    await this.containers.refresh(id);
  }

  /**
   * Graceful stop: SIGTERM once, SIGKILL after the grace period. The container
   * is removed later by `reap` once it has exited. Returns true when it sent SIGTERM now.
   */
  async stop(task: LabelledContainer): Promise<boolean> {
    const id = task.container.id;
    if (task.container.state !== 'running') {
      await this.discard(task);
      return false;
    }
    const since = this.stopping.get(id);
    if (since === undefined) {
      this.stopping.set(id, this.clock.now());
      this.changes++;
      await this.runtime.signal(id, 'SIGTERM');
      return true;
    }
    if (this.clock.now() - since >= this.options.stopGraceMs) await this.runtime.signal(id, 'SIGKILL');
    return false;
  }

  /**
   * A container that has exited: keep its last log lines, record a crash when
   * berth did not ask it to stop, then remove it. Returns the crash message, if any.
   */
  async reap(service: Service, task: LabelledContainer, crashCounts: boolean, deploymentId: number | null): Promise<string | null> {
    const id = task.container.id;
    const alreadyKept = this.store.taskLogs.has(service.id, task.task);
    let message: string | null = null;
    if (!alreadyKept) {
      const details = await this.runtime.inspect(id);
      const lines = await this.runtime.logs(id, { tail: this.options.logLinesKept });
      const expected = this.stopping.has(id) || !crashCounts;
      if (details && !expected) {
        message = taskExited(task.task, details.exitCode, details.oomKilled, details.memoryLimitBytes);
      }
      this.store.transaction(() => {
        this.store.taskLogs.save(service.id, {
          taskName: task.task,
          revision: task.revision,
          createdAt: task.container.createdAt.getTime(),
          stoppedAt: details?.finishedAt?.getTime() ?? this.clock.now(),
          exitCode: details?.exitCode ?? null,
          lines,
        });
        if (message) this.store.events.add(service.id, message, deploymentId);
      });
    }
    await this.remove(id);
    return message;
  }

  /** Removes a task at once, keeping its logs: for tasks that never served traffic. */
  async discard(task: LabelledContainer): Promise<void> {
    const lines = await this.runtime.logs(task.container.id, { tail: this.options.logLinesKept });
    this.store.taskLogs.save(task.serviceId, {
      taskName: task.task,
      revision: task.revision,
      createdAt: task.container.createdAt.getTime(),
      stoppedAt: this.clock.now(),
      exitCode: null,
      lines,
    });
    await this.remove(task.container.id);
  }

  /** Removes a container whose service is gone from the store (no logs to keep). */
  async removeOrphan(containerId: string): Promise<void> {
    await this.remove(containerId);
  }

  private async remove(id: string): Promise<void> {
    await this.runtime.remove(id);
    this.containers.forget(id);
    this.stopping.delete(id);
    this.changes++;
  }
}
