import type { ServiceDefinition } from '../domain/definition.js';
import type { Clock, Deployment, Service } from '../domain/model.js';
import { contextRoot } from '../domain/names.js';
import { sameRoutes, type Gateway, type Route, type RouteRejection, type Target } from '../gateway/gateway.js';
import type { ContainerRuntime, ContainerSummary, EventSubscription } from '../runtime/container-runtime.js';
import type { Store } from '../store/store.js';
import { BackgroundWork } from './background-work.js';
import { FailureLog, type Logger } from './failure-log.js';
import type { ContainerView } from './container-view.js';
import { NO_FAULTS, type FaultPoints } from './fault-points.js';
import type { HealthMonitor, MonitoredTask } from './health-monitor.js';
import type { ImageSource } from './image-source.js';
import { isAlive, LABEL, readLabels, type LabelledContainer } from './labels.js';
import { PassReads } from './pass-reads.js';
import { ServiceReconciler, type PassContext } from './service-reconciler.js';
import { TaskOps } from './task-ops.js';

export type { Logger } from './failure-log.js';

export interface ReconcilerOptions {
  readonly instance: string;
  /** Memory berth may reserve on the engine; null: the engine's total memory. */
  readonly capacityMiB: number | null;
  readonly healthTimeoutMs: number;
  readonly drainMs: number;
  readonly stopGraceMs: number;
  /** Full pass interval when nothing is happening. */
  readonly idlePeriodMs: number;
  /** Pass interval while a deployment or a stop is in progress. */
  readonly busyPeriodMs: number;
  readonly logLinesKept: number;
  readonly logMaxBytes: number;
  readonly concurrency: number;
  readonly imagesKept: number;
}

export const DEFAULT_RECONCILER_OPTIONS: Omit<ReconcilerOptions, 'instance' | 'capacityMiB'> = {
  healthTimeoutMs: 60_000,
  drainMs: 2_000,
  stopGraceMs: 10_000,
  idlePeriodMs: 10_000,
  busyPeriodMs: 250,
  logLinesKept: 300,
  logMaxBytes: 10 * 1024 * 1024,
  concurrency: 8,
  imagesKept: 5,
};

export interface ReconcilerDeps {
  readonly store: Store;
  readonly runtime: ContainerRuntime;
  /** The instance's containers; the reconciler feeds it the engine's events. */
  readonly containers: ContainerView;
  readonly gateway: Gateway;
  readonly health: HealthMonitor;
  readonly images: ImageSource;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Called once a deleted service's containers are all gone, before its rows are deleted. */
  readonly onServiceRemoved?: (service: Service) => Promise<void>;
  readonly faults?: FaultPoints;
  /** Told how long each pass took. */
  readonly onPass?: (durationMs: number) => void;
}

const EVENT_RESUBSCRIBE_MS = 1_000;
const YIELD_EVERY_SERVICES = 20;
const NO_TASKS: readonly LabelledContainer[] = [];

type TasksByService = ReadonlyMap<number, readonly LabelledContainer[]>;
/** The longest a starting server routes to the tasks it adopted before their first probe. */
const ADOPTED_UNPROBED_MS = 5_000;

/**
 * The level-triggered loop: desired state from the store, observed state from
 * the engine (containers found by label, kept current by its events), one pass at a
 * time. Engine events and API writes ask for a pass at once; a periodic pass catches
 * everything else.
 */
export class Reconciler {
  private readonly tasks: TaskOps;
  private readonly services: ServiceReconciler;
  private readonly work: BackgroundWork;
  private readonly reads: PassReads;
  private readonly failures: FailureLog;
  /** The reason each service's route is left out of the gateway's table, as last reported in its events. */
  private readonly routeRejections = new Map<number, string>();
  private running = false;
  private loop: Promise<void> | null = null;
  private eventsLoop: Promise<void> | null = null;
  private subscription: EventSubscription | null = null;
  private kicked = false;
  private wake: (() => void) | null = null;
  private nextWake = Number.POSITIVE_INFINITY;
  /**
   * The table last given to the gateway, and which container each of its targets is.
   * An equal table computed by a later pass does not replace them: hundreds of new
   * objects kept on every pass would each outlive the young generation, and the garbage
   * collector's share of a pass grew faster than the services (BENCHMARKS.md).
   */
  private publishedRoutes: readonly Route[] = [];
  /** Set when publishedRoutes is sent, reset when sending it fails: the next pass sends it again. */
  private routesDelivered = false;
  private publishedTargets = new Map<string, Target>();
  private routesPushedAt = 0;
  private capacity: number | null;
  /**
   * The running containers the first pass found: they served before this start, and
   * stay routed until their first probe says otherwise (or adoptedUntil passes).
   */
  private adopted: ReadonlySet<string> | null = null;
  /** Counts the health monitor's changes of a task's state. */
  private healthChanges = 0;
  /** What the last table and probe list were made from. */
  private publishedFrom: PublishInputs | null = null;
  /** The grouping whose tasks the service reconciler was last told to keep. */
  private retainedFor: TasksByService | null = null;
  /** The last grouping of the view's containers, and the array it was made from. */
  private observed: { readonly from: readonly ContainerSummary[]; readonly byService: TasksByService } | null = null;
  private adoptedUntil = 0;

  constructor(
    private readonly deps: ReconcilerDeps,
    private readonly options: ReconcilerOptions,
  ) {
    this.capacity = options.capacityMiB;
    this.work = new BackgroundWork(() => this.kick());
    this.reads = new PassReads(deps.store, deps.clock);
    this.failures = new FailureLog(deps.logger, deps.clock);
    const faults = deps.faults ?? NO_FAULTS;
    this.tasks = new TaskOps(deps.runtime, deps.containers, deps.store, deps.clock, options, faults);
    this.services = new ServiceReconciler(
      deps.store,
      deps.runtime,
      this.tasks,
      deps.health,
      deps.images,
      this.work,
      deps.clock,
      options,
      deps.onServiceRemoved ?? (async () => {}),
      faults,
    );
    deps.health.onChange(() => {
      this.healthChanges++;
      this.kick();
    });
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.adopted = null;
    this.adoptedUntil = this.deps.clock.now() + ADOPTED_UNPROBED_MS;
    this.loop = this.runLoop();
    this.eventsLoop = this.watchEvents();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.subscription?.close();
    this.wake?.();
    await Promise.all([this.loop, this.eventsLoop]);
  }

  /** Asks for a pass as soon as the current one ends. */
  kick(): void {
    this.kicked = true;
    this.wake?.();
  }

  /** Observed containers grouped by service; the same map as before while the view holds the same containers. */
  private async observe(): Promise<TasksByService> {
    const containers = await this.deps.containers.all();
    if (this.observed?.from === containers) return this.observed.byService;
    const byService = new Map<number, LabelledContainer[]>();
    for (const container of containers) {
      const labelled = readLabels(container);
      if (!labelled) continue;
      const list = byService.get(labelled.serviceId) ?? [];
      list.push(labelled);
      byService.set(labelled.serviceId, list);
    }
    this.observed = { from: containers, byService };
    return byService;
  }

  isStopping(containerId: string): boolean {
    return this.tasks.isStopping(containerId);
  }

  private async runLoop(): Promise<void> {
    while (this.running) {
      this.kicked = false;
      this.nextWake = Number.POSITIVE_INFINITY;
      let busy = false;
      const startedAt = performance.now();
      try {
        busy = await this.pass();
        this.failures.succeeded('reconcile pass');
      } catch (error) {
        this.failures.failed('reconcile pass', (error as Error).message, (error as Error).stack ?? String(error));
        busy = true;
      }
      this.deps.onPass?.(performance.now() - startedAt);
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

  /** One full pass over every service. Returns true while something is in progress. */
  private async pass(): Promise<boolean> {
    const changesBefore = this.tasks.changes;
    const observed = await this.observe();
    this.adopted ??= new Set(
      [...observed.values()].flat().filter((c) => c.container.state === 'running').map((c) => c.container.id),
    );
    const reads = this.reads.read();
    for (const [serviceId, containers] of observed) {
      if (reads.byService.has(serviceId)) continue;
      for (const c of containers) await this.tasks.removeOrphan(c.container.id);
    }
    let reserved: number | null = null;
    // Revisions a service does not serve (a deployment's) are read when asked for, once a pass.
    const otherDefinitions = new Map<string, ServiceDefinition>();
    const ctx: PassContext = {
      reservedMiB: async () => (reserved ??= await this.reservedMiB()),
      reserve: (mib) => {
        reserved = (reserved ?? 0) + mib;
      },
      capacityMiB: async () => (this.capacity ??= Math.floor((await this.deps.runtime.memoryCapacityBytes()) / 1024 / 1024)),
      routesPushedAt: () => this.routesPushedAt,
      wakeAt: (time) => {
        this.nextWake = Math.min(this.nextWake, time);
      },
      definition: (serviceId, number) => {
        const read = reads.byService.get(serviceId);
        if (read?.serving && read.service.currentRevision === number) return read.serving;
        const key = `${serviceId}:${number}`;
        const known = otherDefinitions.get(key);
        if (known) return known;
        const definition = this.deps.store.revisions.get(serviceId, number)?.definition ?? null;
        if (definition) otherDefinitions.set(key, definition);
        return definition;
      },
      // An API call may have written since the pass read: then only this service's rows are read again.
      openDeployments: (serviceId) =>
        this.deps.store.changes() === reads.changes
          ? (reads.openDeployments.get(serviceId) ?? [])
          : this.deps.store.deployments.open(serviceId),
    };
    const failed = (service: Service, error: unknown): void => {
      this.failures.failed(failureKey(service), (error as Error).message, (error as Error).stack ?? String(error));
    };
    await forEachLimited(reads.services, this.options.concurrency, (service) => {
      try {
        const work = this.services.reconcile(service, observed.get(service.id) ?? NO_TASKS, ctx);
        if (work === null) {
          this.failures.succeeded(failureKey(service));
          return null;
        }
        return work.then(
          () => this.failures.succeeded(failureKey(service)),
          (error: unknown) => failed(service, error),
        );
      } catch (error) {
        failed(service, error);
        return null;
      }
    });
    // Look again only when the pass changed containers, so the monitor learns of new tasks at once.
    const changed = this.tasks.changes !== changesBefore;
    const now = changed ? await this.observe() : observed;
    const end = this.reads.read();
    const after: PassState = {
      services: end.services,
      deployments: new Map([...end.openDeployments].map(([serviceId, open]) => [serviceId, open[0] as Deployment])),
      observed: now,
      definition: ctx.definition,
    };
    await this.publish(after);
    if (now !== this.retainedFor) {
      this.services.retainTasks(new Set([...now.values()].flat().map((c) => c.task)));
      this.retainedFor = now;
    }
    return changed || this.isBusy(after);
  }

  private isBusy({ services, deployments, observed }: PassState): boolean {
    for (const service of services) {
      if (service.status === 'DRAINING' || deployments.has(service.id)) return true;
      for (const c of observed.get(service.id) ?? NO_TASKS) {
        if (!isAlive(c.container) || this.tasks.isStopping(c.container.id)) return true;
        if (this.deps.health.health(c.task).state === 'initial') return true;
      }
    }
    return false;
  }

  /** Tells the health monitor what to probe, and the gateway which healthy targets serve each service. */
  private async publish({ services, deployments, observed, definition: definitionOf }: PassState): Promise<void> {
    const now = this.deps.clock.now();
    const adopting = now < this.adoptedUntil;
    const inputs: PublishInputs = { services, observed, taskChanges: this.tasks.changes, healthChanges: this.healthChanges, adopting };
    // The same rows, containers, stops and health give the same table and probe list. Made
    // again on every pass, they were most of what a pass at rest left for the garbage
    // collector, whose pauses then grew faster than the services (BENCHMARKS.md). While
    // adopting, a failed first probe counts without changing a task's state: no skipping.
    const unchanged = this.routesDelivered && deployments.size === 0 && !adopting && samePublishInputs(inputs, this.publishedFrom);
    if (unchanged) {
      this.routesPushedAt = now;
      return;
    }
    const monitored: MonitoredTask[] = [];
    const routes: Route[] = [];
    const owners: Service[] = [];
    const targetsByContainer = new Map<string, Target>();
    const adopted = adopting ? this.adopted : null;
    for (const service of services) {
      if (service.status === 'DRAINING') continue;
      const root = contextRoot(service.project, service.name);
      const containers = (observed.get(service.id) ?? []).filter((c) => c.container.state === 'running' && c.container.ip);
      const deployment = deployments.get(service.id);
      const targets: Target[] = [];
      for (const c of containers) {
        const definition = definitionOf(service.id, c.revision);
        if (!definition || this.tasks.isStopping(c.container.id)) continue;
        const port = definition.containerPort;
        const isCurrent = c.revision === service.currentRevision;
        if (isCurrent || c.revision === deployment?.revision) {
          monitored.push({
            task: c.task,
            host: c.container.ip as string,
            port,
            path: joinPath(root, service.healthCheck.relPath),
            check: service.healthCheck,
          });
        }
        const health = this.deps.health.health(c.task);
        // Right after a start the prober knows nothing yet: a task that served before the
        // start keeps serving until its first probe, so a restart never empties a route.
        const unprobed = health.state === 'initial' && health.description === undefined;
        if (isCurrent && (health.state === 'healthy' || (unprobed && adopted?.has(c.container.id)))) {
          const target = { host: c.container.ip as string, port };
          targets.push(target);
          targetsByContainer.set(c.container.id, target);
        }
      }
      routes.push({ prefix: root, targets });
      owners.push(service);
    }
    this.deps.health.watch(monitored);
    if (!sameTargets(targetsByContainer, this.publishedTargets)) this.publishedTargets = targetsByContainer;
    const rejected = await this.pushRoutes(routes);
    if (rejected !== null) this.reportRejections(owners, rejected);
    this.publishedFrom = inputs;
    this.routesPushedAt = this.deps.clock.now();
  }

  /** Sends the table unless the gateway has it already; answers the routes it left out, null when not sent. */
  private async pushRoutes(routes: readonly Route[]): Promise<readonly RouteRejection[] | null> {
    if (this.routesDelivered && sameRoutes(routes, this.publishedRoutes)) return null;
    this.publishedRoutes = routes;
    this.routesDelivered = true;
    try {
      return await this.deps.gateway.setRoutes(routes);
    } catch (error) {
      this.routesDelivered = false;
      throw error;
    }
  }

  /**
   * A route the gateway left out (a path another project's service already holds, say) is
   * told on its own service, once per reason; every other service is served as usual.
   */
  private reportRejections(owners: readonly Service[], rejected: readonly RouteRejection[]): void {
    const now = new Map<number, string>();
    for (const rejection of rejected) {
      const service = owners[rejection.index];
      if (service) now.set(service.id, rejection.reason);
    }
    for (const [serviceId, reason] of now) {
      if (this.routeRejections.get(serviceId) === reason) continue;
      this.routeRejections.set(serviceId, reason);
      const service = owners.find((s) => s.id === serviceId) as Service;
      this.deps.store.events.add(serviceId, `the gateway does not serve ${contextRoot(service.project, service.name)}: ${reason}`);
      this.deps.logger.warn(`${service.project}/${service.name}: the gateway left its route out: ${reason}`);
    }
    for (const serviceId of [...this.routeRejections.keys()]) {
      if (!now.has(serviceId)) this.routeRejections.delete(serviceId);
    }
  }

  /**
   * Takes a dead container out of the gateway as soon as the engine reports it, without
   * waiting for the pass the event asks for: until then every request sent to it stalls
   * on a connect to an address that no longer exists, or fails.
   */
  private withdraw(containerId: string): void {
    const gone = this.publishedTargets.get(containerId);
    if (!gone) return;
    this.publishedTargets.delete(containerId);
    // The next pass makes the table again, whatever it finds unchanged.
    this.publishedFrom = null;
    const routes = this.publishedRoutes.map((route) => ({
      prefix: route.prefix,
      targets: route.targets.filter((t) => t.host !== gone.host || t.port !== gone.port),
    }));
    this.pushRoutes(routes).catch((error: unknown) => {
      this.deps.logger.warn(`taking task ${containerId.slice(0, 12)} out of the gateway failed: ${(error as Error).message}`);
    });
  }

  private async reservedMiB(): Promise<number> {
    const containers = await this.deps.runtime.list({ [LABEL.managed]: 'true' });
    return containers
      .filter(isAlive)
      .reduce((sum, c) => sum + (Number(c.labels[LABEL.reservation]) || 0), 0);
  }

  private async watchEvents(): Promise<void> {
    while (this.running) {
      try {
        const subscription = this.deps.runtime.subscribe({ [LABEL.instance]: this.options.instance }, (event) => {
          if (event.action === 'die' || event.action === 'oom') this.withdraw(event.containerId);
          const applied = this.deps.containers.apply(event);
          // A death or a removal is in the view already; a pass need not wait for the inspect.
          this.kick();
          applied.then(
            () => this.kick(),
            (error: unknown) => {
              // The view lists the engine at its next read instead.
              this.deps.logger.warn(`looking at container ${event.containerId.slice(0, 12)} after its ${event.action} event failed: ${(error as Error).message}`);
              this.kick();
            },
          );
        });
        this.subscription = subscription;
        await Promise.race([subscription.delivering.then(() => this.deps.containers.streamStarted()), subscription.ended]);
        await subscription.ended;
      } catch (error) {
        this.deps.logger.warn(`engine event stream ended: ${(error as Error).message}`);
      }
      this.deps.containers.streamEnded();
      if (!this.running) return;
      // The stream ends when the engine restarts: catch up on what happened meanwhile.
      this.kick();
      await new Promise((resolve) => setTimeout(resolve, EVENT_RESUBSCRIBE_MS));
    }
  }
}

/** What a pass read after driving every service, for the gateway and the loop's period. */
interface PassState {
  readonly services: readonly Service[];
  readonly deployments: ReadonlyMap<number, Deployment>;
  readonly observed: TasksByService;
  readonly definition: (serviceId: number, number: number) => ServiceDefinition | null;
}

function failureKey(service: Service): string {
  return `reconciling ${service.project}/${service.name}`;
}

export function joinPath(root: string, relPath: string): string {
  return relPath === '/' ? `${root}/` : `${root}${relPath.startsWith('/') ? '' : '/'}${relPath}`;
}

/**
 * Runs fn on every item, at most `limit` at a time; fn returns a promise only for an item
 * that waits on something.
 */
async function forEachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void> | null): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      const work = fn(item);
      if (work) await work;
      // Items with nothing to wait on never give the event loop back: without a yield, a pass
      // over hundreds of them holds it, and API requests wait it out.
      if (next % YIELD_EVERY_SERVICES === 0) await new Promise<void>((resolve) => setImmediate(resolve));
    }
  });
  await Promise.all(workers);
}

interface PublishInputs {
  readonly services: readonly Service[];
  readonly observed: TasksByService;
  readonly taskChanges: number;
  readonly healthChanges: number;
  readonly adopting: boolean;
}

/** The store's rows and the view's grouping are kept objects: the same object means the same content. */
function samePublishInputs(a: PublishInputs, b: PublishInputs | null): boolean {
  return (
    b !== null &&
    a.services === b.services &&
    a.observed === b.observed &&
    a.taskChanges === b.taskChanges &&
    a.healthChanges === b.healthChanges &&
    a.adopting === b.adopting
  );
}

function sameTargets(a: ReadonlyMap<string, Target>, b: ReadonlyMap<string, Target>): boolean {
  if (a.size !== b.size) return false;
  for (const [container, target] of a) {
    const other = b.get(container);
    if (other?.host !== target.host || other.port !== target.port) return false;
  }
  return true;
}
