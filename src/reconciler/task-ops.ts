import { exitOutcome } from '../domain/backoff.js';
import { colourLabel } from '../domain/colours.js';
import type { StackSettings } from '../domain/compose/stack-settings.js';
import type { RestartPolicy } from '../domain/compose/stack-spec.js';
import { BASE_CAPABILITIES, type ServiceDefinition } from '../domain/definition.js';
import type { Job } from '../domain/job.js';
import { startedTasks, taskExited } from '../domain/messages.js';
import type { Clock, Service } from '../domain/model.js';
import { contextRoot } from '../domain/names.js';
import { placementConstraints } from '../domain/placement-constraints.js';
import type { LogLine, Mount, TaskDetails, TaskRuntime, TaskSpec, VolumeSpec } from '../runtime/task-runtime.js';
import type { Store } from '../store/store.js';
import type { ChangeTracker } from './change-tracker.js';
import type { ContainerView } from './container-view.js';
import type { FaultPoints } from './fault-points.js';
import type { ImageToRun } from './image-source.js';
import { containerName, LABEL, jobTaskLabels, jobTaskName, newTaskName, projectNetwork, taskLabels, type LabelledContainer, type OwnedTask } from './labels.js';
import { stackFilesDir, stackTaskParts } from './stack-task.js';
import type { TaskEnvironment } from './task-environment.js';

const MiB = 1024 * 1024;

export interface TaskOpsOptions {
  readonly instance: string;
  readonly logLinesKept: number;
  readonly logMaxBytes: number;
  readonly stopGraceMs: number;
  /** Where stacks' secrets and configs are written (stack-task.ts). */
  readonly stackFilesRoot: string;
}

/**
 * How a reaped task ended, as its service sees it; `expected` when berth stopped it (or it did
 * not count); `lost` when its node went down or the runtime gave it up (no fault of its own).
 */
export interface Reaped {
  readonly outcome: 'crash' | 'completed' | 'exited' | 'expected' | 'lost';
  readonly message: string | null;
  /** For a lost task: why, in plain words ("node worker-2 is down"). */
  readonly lost?: string;
}

/** What a task that ended left: how it ended, and its last lines. */
export interface TaskRemains {
  readonly details: TaskDetails | null;
  readonly lines: LogLine[];
}

/** The parts of a task every kind of workload sets the same way. */
interface Launch {
  readonly project: string;
  readonly task: string;
  readonly image: ImageToRun;
  readonly labels: Record<string, string>;
  readonly env: readonly string[];
  readonly command: readonly string[] | null;
  readonly limits: Pick<ServiceDefinition, 'memoryLimitMiB' | 'memoryReservationMiB' | 'cpuLimit' | 'pidsLimit' | 'capAdd'>;
  /** For a stack service's task: what its compose file adds. */
  readonly stack?: { readonly serviceName: string; readonly settings: StackSettings };
  /** The ports the gateway and the prober reach. */
  readonly servedPorts: readonly number[];
  readonly constraints: readonly string[];
  /** Names it answers to on its project's network (a database's name). */
  readonly aliases?: readonly string[];
  /** Volumes it mounts, made first when missing. */
  readonly volumes?: readonly { readonly spec: VolumeSpec; readonly target: string }[];
  /** False: made, not started (something goes into it first). */
  readonly start?: boolean;
  /** berth runs commands in it and copies files into it (TaskSpec.local). */
  readonly local?: boolean;
}

/** A database's task, serving or scratch, as its controller asks for it. */
export type DatabaseLaunch = Omit<Launch, 'stack'>;

/**
 * What the reconciler does to one task, for every kind of workload. Each operation is safe to
 * repeat: a crash between any two lines leaves state the next pass finishes. Each change is
 * recorded in the container view when the runtime confirms it, so the pass that made it sees
 * it without waiting for the runtime's event; a stop is told to the change tracker ('stops').
 */
export class TaskOps {
  /** Tasks berth has sent SIGTERM, and when: their exit is expected, not a crash. */
  private readonly stopping = new Map<string, number>();
  /** Networks and volumes known to exist: ensured once, not before every task. */
  private readonly ensured = new Set<string>();

  constructor(
    private readonly runtime: TaskRuntime,
    private readonly containers: ContainerView,
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly options: TaskOpsOptions,
    private readonly faults: FaultPoints,
    private readonly tracker: ChangeTracker,
    private readonly environment: TaskEnvironment,
  ) {}

  isStopping(taskId: string): boolean {
    return this.stopping.has(taskId);
  }

  /** Creates and starts `count` tasks of a revision; records one event for them. */
  async startTasks(
    service: Service,
    revision: number,
    definition: ServiceDefinition,
    image: ImageToRun,
    count: number,
    deploymentId: number | null,
  ): Promise<void> {
    const names: string[] = [];
    for (let i = 0; i < count; i++) {
      // nmpi-green-1a2b: which colour a task is shows in logs, events and `docker ps`.
      const task = newTaskName(colourLabel(service));
      await this.launch({
        project: service.project,
        task,
        image,
        labels: taskLabels({
          instance: this.options.instance,
          project: service.project,
          service: service.name,
          serviceId: service.id,
          revision,
          task,
          reservationMiB: definition.memoryReservationMiB,
          colour: service.colour,
        }),
        env: [
          ...definition.environment.map((e) => `${e.name}=${e.value}`),
          ...this.environment.forService(service.project, service.id, revision, definition),
          `CONTEXT_ROOT=${contextRoot(service.project, service.name)}`,
        ],
        command: definition.command,
        limits: definition,
        ...(definition.stack ? { stack: { serviceName: service.name, settings: definition.stack } } : {}),
        servedPorts: definition.stack?.routed === false ? [] : [definition.containerPort],
        constraints: placementConstraints(definition.placement),
      });
      names.push(task);
    }
    if (names.length > 0) this.store.events.add(service.id, startedTasks(names), deploymentId);
  }

  /** Creates and starts the task of a job's attempt. */
  async startJobTask(job: Job, attempt: number, image: ImageToRun): Promise<void> {
    const { spec } = job;
    const task = jobTaskName(job.id, attempt);
    const env = [...spec.environment.map((e) => `${e.name}=${e.value}`), ...this.environment.forJob(job)];
    // Run from a service, a job sees what the service's tasks see.
    if (spec.service !== null) env.push(`CONTEXT_ROOT=${contextRoot(job.project, spec.service)}`);
    await this.launch({
      project: job.project,
      task,
      image,
      labels: jobTaskLabels({ instance: this.options.instance, project: job.project, jobId: job.id, attempt, task, reservationMiB: spec.memoryReservationMiB }),
      env,
      command: spec.command,
      limits: spec,
      ...(spec.stack && spec.service !== null ? { stack: { serviceName: spec.service, settings: spec.stack } } : {}),
      servedPorts: [],
      constraints: [],
    });
  }

  /** Makes a database's task (and its volume), started unless asked not to; answers its id. */
  async startDatabaseTask(launch: DatabaseLaunch): Promise<string> {
    return this.launch(launch);
  }

  /** Forgets what it knew to exist, so the next task makes its networks and volumes again (a stack went away). */
  forgetResources(): void {
    this.ensured.clear();
  }

  /** Sends a signal to a running task (compose kill); its exit, if it ends it, is the service's to judge. */
  async signal(task: OwnedTask, signal: string): Promise<void> {
    await this.runtime.signalTask(task.container.id, signal);
  }

  /** A task left the routes without a stop (its node is being drained): the route table is made again. */
  withdrawn(): void {
    this.tracker.bump('stops');
  }

  /** Starts a created task. */
  async start(id: string): Promise<void> {
    await this.runtime.startTask(id);
    await this.containers.refresh(id);
  }

  /**
   * Graceful stop: SIGTERM once, SIGKILL after the grace period. The task is removed later,
   * once it has exited. Returns true when it sent SIGTERM now.
   */
  async stop(task: OwnedTask, signal: 'SIGTERM' | 'SIGINT' = 'SIGTERM'): Promise<boolean> {
    const id = task.container.id;
    if (task.container.state !== 'running') {
      await this.remove(id);
      return false;
    }
    const since = this.stopping.get(id);
    if (since === undefined) {
      this.stopping.set(id, this.clock.now());
      this.tracker.bump('stops');
      await this.runtime.signalTask(id, signal);
      return true;
    }
    if (this.clock.now() - since >= this.options.stopGraceMs) await this.runtime.signalTask(id, 'SIGKILL');
    return false;
  }

  /** How a task that exited ended, and its last lines, before it is removed. */
  async remains(id: string): Promise<TaskRemains> {
    return { details: await this.runtime.inspectTask(id), lines: await this.runtime.taskLogs(id, { tail: this.options.logLinesKept }) };
  }

  /**
   * A service's task that has exited: keep its last log lines, say how it ended when berth did
   * not ask it to stop (under its restart policy: a crash, a completion, an exit that stays),
   * then remove it. `counts`: whether its exit means anything (false for a leftover revision).
   */
  async reap(service: Service, task: LabelledContainer, restart: RestartPolicy | null, counts: boolean, deploymentId: number | null): Promise<Reaped> {
    const id = task.container.id;
    let reaped: Reaped = { outcome: 'expected', message: null };
    if (!this.store.taskLogs.has(service.id, task.task)) {
      const { details, lines } = await this.remains(id);
      if (details?.lost && counts && !this.stopping.has(id)) {
        reaped = { outcome: 'lost', message: `${details.lost}: task ${task.task} is lost and replaced`, lost: details.lost };
      } else if (details && counts && !this.stopping.has(id)) {
        const outcome = exitOutcome(restart, details.oomKilled ? (details.exitCode ?? 137) : details.exitCode);
        const exited = taskExited(task.task, details.exitCode, details.oomKilled, details.memoryLimitBytes);
        const message = outcome === 'completed' ? `task ${task.task} completed (exit code 0)` : outcome === 'exited' ? `${exited}; not restarted (restart: no)` : exited;
        reaped = { outcome, message };
      }
      const { message } = reaped;
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
    return reaped;
  }

  /** Removes a service's task at once, keeping its logs: for tasks that never served traffic. */
  async discard(task: LabelledContainer): Promise<void> {
    const lines = await this.runtime.taskLogs(task.container.id, { tail: this.options.logLinesKept });
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

  /** Removes a task at once, its logs with it. */
  async remove(id: string): Promise<void> {
    await this.runtime.removeTask(id);
    this.containers.forget(id);
    if (this.stopping.delete(id)) this.tracker.bump('stops');
  }

  private async ensure(key: string, make: () => Promise<void>): Promise<void> {
    if (this.ensured.has(key)) return;
    await make();
    this.ensured.add(key);
  }

  private async launch(launch: Launch): Promise<string> {
    const home = projectNetwork(this.options.instance, launch.project);
    const stack = launch.stack
      ? stackTaskParts(this.options.instance, launch.project, launch.stack.serviceName, launch.stack.settings, stackFilesDir(this.options.stackFilesRoot, launch.project, launch.stack.settings.stack))
      : null;
    const networks = stack?.ensureNetworks ?? [home];
    for (const network of networks) await this.ensure(`network ${network.name}`, () => this.runtime.ensureNetwork(network));
    for (const volume of stack?.ensureVolumes ?? []) await this.ensure(`volume ${volume.name}`, () => this.runtime.ensureVolume(volume));
    for (const { spec } of launch.volumes ?? []) await this.ensure(`volume ${spec.name}`, () => this.runtime.ensureVolume(spec));
    const volumeMounts: Mount[] = (launch.volumes ?? []).map((v) => ({ kind: 'volume', source: v.spec.name, target: v.target, readOnly: false }));
    const drops = new Set(launch.stack?.settings.capDrop ?? []);
    const spec: TaskSpec = {
      name: containerName(this.options.instance, launch.project, launch.task),
      image: launch.image.reference,
      labels: { ...(launch.stack?.settings.labels ?? {}), ...launch.labels, ...(launch.stack ? { [LABEL.stack]: launch.stack.settings.stack } : {}) },
      env: launch.env,
      command: launch.command,
      memoryLimitBytes: launch.limits.memoryLimitMiB * MiB,
      memoryReservationBytes: launch.limits.memoryReservationMiB * MiB,
      logMaxBytes: launch.stack?.settings.logMaxBytes ?? this.options.logMaxBytes,
      networks: stack?.networks ?? [{ name: home.name, aliases: [...(launch.aliases ?? [])] }],
      capabilities: drops.has('ALL') ? [] : [...BASE_CAPABILITIES, ...launch.limits.capAdd].filter((c) => !drops.has(c)),
      pidsLimit: launch.limits.pidsLimit,
      cpuLimit: launch.limits.cpuLimit,
      mounts: stack?.mounts ?? volumeMounts,
      ...(stack ? { extra: stack.extra } : {}),
      servedPorts: launch.servedPorts,
      constraints: launch.constraints,
      ...(launch.local ? { local: true } : {}),
      pullAuth: launch.image.auth,
    };
    let id: string;
    try {
      id = await this.runtime.createTask(spec);
    } catch (error) {
      // A network or volume removed behind berth's back is made again on the next pass.
      this.ensured.clear();
      throw error;
    }
    // In the view before the start: if the start fails, the next pass must see this task, not create another.
    await this.containers.refresh(id);
    this.faults.hit('task:created');
    if (launch.start !== false) await this.start(id);
    return id;
  }
}
