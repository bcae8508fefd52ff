import type { ColourSwitch } from '../domain/colours.js';
import type { Clock, Service } from '../domain/model.js';
import type { NodeRoom } from '../domain/placement.js';
import type { Gateway } from '../gateway/gateway.js';
import { isAlive, type EventSubscription, type TaskRuntime } from '../runtime/task-runtime.js';
import type { Store } from '../store/store.js';
import { BackgroundWork } from './background-work.js';
import { ChangeTracker } from './change-tracker.js';
import { ColourSwitcher } from './colour-switch.js';
import type { ContainerView } from './container-view.js';
import type { PassContext } from './controller.js';
import { FailureLog, type Logger } from './failure-log.js';
import { NO_FAULTS, type FaultPoints } from './fault-points.js';
import type { HealthMonitor } from './health-monitor.js';
import { ImagePreparation } from './image-preparation.js';
import type { ImageSource } from './image-source.js';
import { BackupController } from './backup-controller.js';
import { DatabaseController } from './database-controller.js';
import type { DatabaseDriver, FreshDatabaseRestore, ReplicaRestore } from './database-driver.js';
import { DatabaseTasks } from './database-tasks.js';
import type { RestoreStreams } from './restore-streams.js';
import type { DumpStorage } from './dump-storage.js';
import { JobController } from './job-controller.js';
import { JobProgressWatcher } from './job-progress.js';
import { LABEL, readLabels, type DatabaseTask, type JobContainer, type LabelledContainer } from './labels.js';
import { NodeMoves } from './node-moves.js';
import type { NodeDrainer } from './node-drainer.js';
import type { NodeNames } from './node-names.js';
import { RestoreController } from './restore-controller.js';
import { RoutePublisher } from './route-publisher.js';
import { ServiceController } from './service-controller.js';
import { StackController } from './stack-controller.js';
import { TaskOps } from './task-ops.js';
import { SealedTaskEnvironment } from './task-environment.js';
import type { SecretStore } from '../secrets/secret-store.js';

export type { Logger } from './failure-log.js';

export interface ReconcilerOptions {
  readonly instance: string;
  /** Memory berth may reserve on the runtime; null: what its nodes have. */
  readonly capacityMiB: number | null;
  readonly healthTimeoutMs: number;
  readonly drainMs: number;
  readonly stopGraceMs: number;
  /** Full pass interval when nothing is happening. */
  readonly idlePeriodMs: number;
  /** Pass interval while a deployment, a job or a stop is in progress. */
  readonly busyPeriodMs: number;
  readonly logLinesKept: number;
  readonly logMaxBytes: number;
  readonly concurrency: number;
  readonly imagesKept: number;
  /** Finished jobs kept per project. */
  readonly jobsKept: number;
  /** The wait before subscribing to the runtime's events again after the stream ended. */
  readonly resubscribeMs: number;
  /** Where stacks' secrets and configs are written for their tasks to mount. */
  readonly stackFilesRoot: string;
}

export const DEFAULT_RECONCILER_OPTIONS: Omit<ReconcilerOptions, 'instance' | 'capacityMiB' | 'stackFilesRoot'> = {
  healthTimeoutMs: 60_000,
  drainMs: 2_000,
  stopGraceMs: 10_000,
  idlePeriodMs: 10_000,
  busyPeriodMs: 250,
  logLinesKept: 300,
  logMaxBytes: 10 * 1024 * 1024,
  concurrency: 8,
  imagesKept: 5,
  jobsKept: 100,
  resubscribeMs: 1_000,
};

export interface ReconcilerDeps {
  readonly store: Store;
  readonly runtime: TaskRuntime;
  /** The instance's tasks; the reconciler feeds it the runtime's events. */
  readonly containers: ContainerView;
  /** Counts changes of everything a pass reads; the view must report to the same one. */
  readonly tracker: ChangeTracker;
  readonly gateway: Gateway;
  readonly health: HealthMonitor;
  readonly images: ImageSource;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Called once a deleted service's tasks are all gone, before its rows are deleted. */
  readonly onServiceRemoved?: (service: Service) => Promise<void>;
  readonly faults?: FaultPoints;
  /** Told how long each pass took. */
  readonly onPass?: (durationMs: number) => void;
  /** The runtime's nodes' names: with them, a service that lost tasks with a node is told where they went. */
  readonly nodeNames?: NodeNames;
  /** Finishes the drains of nodes berth was asked to drain. */
  readonly drainer?: NodeDrainer;
  /** Told when a deployment fails for want of memory. */
  readonly onAdmissionRefused?: () => void;
  /** Sealed secrets: services' `secrets`, stacks' secret files, databases' passwords. */
  readonly secrets: SecretStore;
  /** What managed databases need; without it the reconciler runs none. */
  readonly databases?: DatabaseParts;
}

export interface DatabaseParts {
  readonly postgres: DatabaseDriver & FreshDatabaseRestore;
  readonly redis: DatabaseDriver & ReplicaRestore;
  readonly backups: DumpStorage;
  readonly uploads: DumpStorage;
  /** Uploads the API loads while they arrive (PostgreSQL). */
  readonly streams: RestoreStreams;
}

/** The longest a starting server routes to the tasks it adopted before their first probe. */
const ADOPTED_UNPROBED_MS = 5_000;

interface Observed {
  readonly services: ReadonlyMap<number, readonly LabelledContainer[]>;
  readonly jobs: ReadonlyMap<number, readonly JobContainer[]>;
  readonly databases: ReadonlyMap<number, readonly DatabaseTask[]>;
  readonly taskNames: ReadonlySet<string>;
}

/**
 * The level-triggered loop: one pass at a time, each handing every kind of workload's
 * controller its tasks (found by label, kept current by the runtime's events), then
 * publishing the routes of the workloads the gateway serves. Runtime events and API writes
 * ask for a pass at once; a periodic pass catches everything else. `runPass` runs one pass
 * on its own, for tests with a manual clock.
 */
export class Reconciler {
  /** Moves a coloured service's live traffic between passes (the API's port). */
  readonly colours: ColourSwitch;
  private readonly tasks: TaskOps;
  private readonly services: ServiceController;
  private readonly jobs: JobController;
  private readonly stacks: StackController;
  private readonly databases: { readonly tasks: DatabaseController; readonly backups: BackupController; readonly restores: RestoreController } | null;
  private readonly routes: RoutePublisher;
  private readonly progress: JobProgressWatcher;
  private readonly failures: FailureLog;
  private running = false;
  private loop: Promise<void> | null = null;
  private eventsLoop: Promise<void> | null = null;
  private subscription: EventSubscription | null = null;
  private kicked = false;
  private wake: (() => void) | null = null;
  private nextWake = Number.POSITIVE_INFINITY;
  private capacity: number | null;
  /**
   * The running tasks the first pass found: they served before this start, and stay routed
   * until their first probe says otherwise (or adoptedUntil passes).
   */
  private adopted: ReadonlySet<string> | null = null;
  private adoptedUntil: number;
  /** The last grouping of the view's tasks, and the tracker's count of task changes it was made at. */
  private observed: { readonly at: number | string; readonly groups: Observed } | null = null;
  private passes = 0;

  constructor(
    private readonly deps: ReconcilerDeps,
    private readonly options: ReconcilerOptions,
  ) {
    const { store, runtime, clock, tracker } = deps;
    this.capacity = options.capacityMiB;
    this.adoptedUntil = clock.now() + ADOPTED_UNPROBED_MS;
    this.failures = new FailureLog(deps.logger, clock);
    const work = new BackgroundWork(() => this.kick());
    const preparation = new ImagePreparation(runtime, deps.images, work);
    const faults = deps.faults ?? NO_FAULTS;
    tracker.follow('store', () => {
      const counters = store.counters();
      return `${counters.services}/${counters.jobs}/${counters.databases}`;
    });
    const environment = new SealedTaskEnvironment(store, deps.secrets);
    this.tasks = new TaskOps(runtime, deps.containers, store, clock, options, faults, tracker, environment);
    this.routes = new RoutePublisher(deps.gateway, deps.health, tracker, clock, deps.logger);
    this.colours = new ColourSwitcher(this.routes, faults, () => this.kick());
    this.services = new ServiceController(
      {
        store,
        runtime,
        tasks: this.tasks,
        health: deps.health,
        images: deps.images,
        preparation,
        clock,
        failures: this.failures,
        onServiceRemoved: deps.onServiceRemoved ?? (async () => {}),
        faults,
        routesPushedAt: () => this.routes.routesPushedAt(),
        ...(deps.nodeNames ? { moves: new NodeMoves(store, deps.nodeNames) } : {}),
        admissionRefused: deps.onAdmissionRefused ?? (() => undefined),
      },
      options,
    );
    this.progress = new JobProgressWatcher(runtime, (jobId, progress) => store.jobs.setProgress(jobId, progress), clock, deps.logger);
    this.jobs = new JobController(
      { store, tasks: this.tasks, preparation, progress: this.progress, clock, failures: this.failures, ...(deps.nodeNames ? { nodeNames: deps.nodeNames } : {}) },
      options,
    );
    this.stacks = new StackController(store, deps.secrets, runtime, this.tasks, this.failures, options);
    this.databases = deps.databases ? this.databaseControllers(deps.databases, preparation, faults) : null;
    deps.health.onChange(() => {
      tracker.bump('health');
      this.kick();
    });
  }

  private databaseControllers(parts: DatabaseParts, preparation: ImagePreparation, faults: FaultPoints): Reconciler['databases'] {
    const { store, runtime, clock } = this.deps;
    const kick = (): void => this.kick();
    const tasks = new DatabaseTasks(this.tasks, this.deps.secrets, { postgres: parts.postgres, redis: parts.redis }, clock, this.options.instance, () => {
      this.deps.tracker.bump('health');
      kick();
    });
    // A database's first start (initdb) takes longer than a service's health check.
    const readyTimeoutMs = Math.max(this.options.healthTimeoutMs, 120_000);
    return {
      tasks: new DatabaseController({ store, runtime, tasks, preparation, backups: parts.backups, clock, failures: this.failures }, { readyTimeoutMs }),
      backups: new BackupController({ store, tasks, storage: parts.backups, clock, failures: this.failures, faults, kick }, { readyTimeoutMs }),
      restores: new RestoreController({ store, tasks, uploads: parts.uploads, backups: parts.backups, postgres: parts.postgres, redis: parts.redis, streams: parts.streams, clock, failures: this.failures, faults, kick }),
    };
  }

  start(): void {
    if (this.running) return;
    this.listen();
    this.loop = this.runLoop();
  }

  /**
   * Follows the runtime's events without running passes of its own: what `start` does besides
   * its loop, for tests that run each pass themselves.
   */
  listen(): void {
    if (this.running) return;
    this.running = true;
    this.adopted = null;
    this.adoptedUntil = this.deps.clock.now() + ADOPTED_UNPROBED_MS;
    this.eventsLoop = this.watchEvents();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.subscription?.close();
    this.wake?.();
    await Promise.all([this.loop, this.eventsLoop]);
    this.progress.stop();
  }

  /** Asks for a pass as soon as the current one ends. */
  kick(): void {
    this.kicked = true;
    this.wake?.();
  }

  isStopping(taskId: string): boolean {
    return this.tasks.isStopping(taskId);
  }

  /** The memory tasks may reserve in all: the flag's, else what the runtime's nodes have. */
  async capacityMiB(): Promise<number> {
    return (this.capacity ??= await this.nodesCapacityMiB());
  }

  /** Passes ended since the reconciler was made, for tests that wait for one. */
  passCount(): number {
    return this.passes;
  }

  /** When the next pass is due at the latest, as the last pass asked; for tests with a manual clock. */
  nextWakeAt(): number {
    return this.nextWake;
  }

  /** One full pass over every kind of workload. Answers true while something is in progress. */
  async runPass(): Promise<boolean> {
    this.nextWake = Number.POSITIVE_INFINITY;
    const startedAt = performance.now();
    let busy: boolean;
    try {
      busy = await this.pass();
      this.failures.succeeded('reconcile pass');
    } catch (error) {
      this.failures.failed('reconcile pass', (error as Error).message, (error as Error).stack ?? String(error));
      busy = true;
    }
    this.passes++;
    this.deps.onPass?.(performance.now() - startedAt);
    return busy;
  }

  private async pass(): Promise<boolean> {
    const observed = await this.observe();
    const tasksBefore = this.deps.tracker.version('tasks');
    this.adopted ??= new Set(
      [...observed.services.values()].flat().filter((c) => c.container.state === 'running').map((c) => c.container.id),
    );
    const pass = this.passContext();
    const stacksBusy = await this.stacks.reconcile();
    const servicesBusy = await this.services.reconcile(observed.services, pass);
    const jobsBusy = await this.jobs.reconcile(observed.jobs, pass);
    const draining = (await this.deps.drainer?.pass()) ?? false;
    const databasesBusy = await this.reconcileDatabases(observed.databases, pass);
    // Look again only when the pass changed tasks, so the monitor learns of new tasks at once.
    const changed = this.deps.tracker.version('tasks') !== tasksBefore;
    const now = changed ? await this.observe() : observed;
    const adopting = this.deps.clock.now() < this.adoptedUntil ? this.adopted : null;
    await this.routes.publish([{ source: this.services, tasks: now.services }], adopting);
    this.services.retainTasks(now.taskNames);
    return changed || stacksBusy || servicesBusy || jobsBusy || databasesBusy || draining;
  }

  private async reconcileDatabases(tasks: ReadonlyMap<number, readonly DatabaseTask[]>, pass: PassContext): Promise<boolean> {
    if (this.databases === null) return false;
    const serving = await this.databases.tasks.reconcile(tasks, pass);
    const restoring = await this.databases.restores.reconcile(tasks, pass);
    const backingUp = await this.databases.backups.reconcile(tasks, pass);
    return serving || restoring || backingUp;
  }

  private passContext(): PassContext {
    let reserved: number | null = null;
    let rooms: Promise<NodeRoom[]> | null = null;
    const added = new Map<string, number>();
    return {
      reservedMiB: async () => (reserved ??= await this.reservedMiB()),
      reserve: (mib, node) => {
        reserved = (reserved ?? 0) + mib;
        if (node !== undefined) added.set(node, (added.get(node) ?? 0) + mib);
      },
      capacityMiB: () => this.capacityMiB(),
      rooms: async () => (await (rooms ??= this.rooms())).map((r) => ({ ...r, reservedMiB: r.reservedMiB + (added.get(r.name) ?? 0) })),
      wakeAt: (time) => {
        this.nextWake = Math.min(this.nextWake, time);
      },
    };
  }

  /** The view's tasks grouped by kind and workload; the same grouping as before while no task changed. */
  private async observe(): Promise<Observed> {
    // The count is read before the tasks: a change landing while they are read makes the next
    // pass group them again, where reading it after would label old tasks with the new count.
    const at = this.deps.tracker.version('tasks');
    const containers = await this.deps.containers.all();
    if (this.observed?.at === at) return this.observed.groups;
    const services = new Map<number, LabelledContainer[]>();
    const jobs = new Map<number, JobContainer[]>();
    const databases = new Map<number, DatabaseTask[]>();
    const taskNames = new Set<string>();
    for (const container of containers) {
      const owned = readLabels(container);
      if (!owned) continue;
      taskNames.add(owned.task);
      if (owned.kind === 'service') push(services, owned.serviceId, owned);
      else if (owned.kind === 'job') push(jobs, owned.jobId, owned);
      else push(databases, owned.databaseId, owned);
    }
    const groups = { services, jobs, databases, taskNames };
    this.observed = { at, groups };
    return groups;
  }

  private async runLoop(): Promise<void> {
    while (this.running) {
      this.kicked = false;
      const busy = await this.runPass();
      if (!this.running || this.kicked) continue;
      const period = busy ? this.options.busyPeriodMs : this.options.idlePeriodMs;
      const delay = Math.max(0, Math.min(period, this.nextWake - this.deps.clock.now()));
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = null;
    }
  }

  /** MiB reserved by every task on the runtime: several servers (and tests) may share one, and every instance's reservations count. */
  async reservedMiB(): Promise<number> {
    const tasks = await this.deps.runtime.listTasks({ [LABEL.managed]: 'true' });
    return tasks.filter(isAlive).reduce((sum, c) => sum + (Number(c.labels[LABEL.reservation]) || 0), 0);
  }

  /**
   * Each node's memory, and what every instance's live tasks reserve on it. On one engine the
   * node's memory is --memory-capacity when given; a task not placed yet counts nowhere.
   */
  private async rooms(): Promise<NodeRoom[]> {
    const [nodes, tasks] = await Promise.all([this.deps.runtime.nodes(), this.deps.runtime.listTasks({ [LABEL.managed]: 'true' })]);
    const only = nodes.length === 1 ? nodes[0] : undefined;
    const rooms = new Map(
      nodes.map((n) => [
        n.id,
        {
          name: n.name,
          capacityMiB: only && this.options.capacityMiB !== null ? this.options.capacityMiB : Math.floor(n.memoryBytes / 1024 / 1024),
          reservedMiB: 0,
          schedulable: n.schedulable ?? true,
          attributes: n.attributes ?? {},
        },
      ]),
    );
    const unplaced: number[] = [];
    for (const task of tasks.filter(isAlive)) {
      const mib = Number(task.labels[LABEL.reservation]) || 0;
      const room = rooms.get((task.node === undefined ? only?.id : task.node) ?? '');
      if (room) room.reservedMiB += mib;
      else unplaced.push(mib);
    }
    // A task not placed yet will take room somewhere: count it where the orchestrator would put it.
    for (const mib of unplaced) {
      const roomiest = [...rooms.values()].filter((r) => r.schedulable).sort((a, b) => b.capacityMiB - b.reservedMiB - (a.capacityMiB - a.reservedMiB))[0];
      if (roomiest) roomiest.reservedMiB += mib;
    }
    return [...rooms.values()];
  }

  private async nodesCapacityMiB(): Promise<number> {
    const nodes = await this.deps.runtime.nodes();
    return Math.floor(nodes.reduce((sum, node) => sum + node.memoryBytes, 0) / 1024 / 1024);
  }

  private async watchEvents(): Promise<void> {
    while (this.running) {
      try {
        const subscription = this.deps.runtime.subscribe({ [LABEL.instance]: this.options.instance }, (event) => {
          if (event.kind === 'exited' || event.kind === 'oom') this.routes.withdraw(event.taskId);
          const applied = this.deps.containers.apply(event);
          // An exit or a removal is in the view already; a pass need not wait for the inspect.
          this.kick();
          applied.then(
            () => this.kick(),
            (error: unknown) => {
              // The view lists the runtime at its next read instead.
              this.deps.logger.warn(`looking at task ${event.taskId.slice(0, 12)} after its ${event.kind} event failed: ${(error as Error).message}`);
              this.kick();
            },
          );
        });
        this.subscription = subscription;
        await Promise.race([subscription.delivering.then(() => this.deps.containers.streamStarted()), subscription.ended]);
        await subscription.ended;
      } catch (error) {
        this.deps.logger.warn(`runtime event stream ended: ${(error as Error).message}`);
      }
      this.deps.containers.streamEnded();
      if (!this.running) return;
      // The stream ends when the runtime restarts: catch up on what happened meanwhile.
      this.kick();
      await new Promise((resolve) => setTimeout(resolve, this.options.resubscribeMs));
    }
  }
}

function push<T>(map: Map<number, T[]>, key: number, value: T): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}
