import type { Clock } from '../domain/model.js';
import { GatewayUnavailableError } from '../gateway/errors.js';
import { sameRoutes, type Gateway, type Route, type RouteRejection, type Target } from '../gateway/gateway.js';
import type { ChangeTracker } from './change-tracker.js';
import type { OwnedRoute, ProbedTask, RouteSource } from './controller.js';
import type { Logger } from './failure-log.js';
import type { HealthMonitor } from './health-monitor.js';
import type { OwnedTask } from './labels.js';

/** A route source with the tasks of its kind, as a pass grouped them. */
export interface SourcedTasks {
  readonly source: RouteSource;
  readonly tasks: ReadonlyMap<number, readonly OwnedTask[]>;
}

/**
 * Tells the health monitor what to probe and the gateway which healthy targets serve each
 * route, from every kind of workload the gateway serves. Made again only when the change
 * tracker's stamp moved since the last table: the same rows, tasks, stops and health give the
 * same table, and making it on every pass was most of what a pass at rest left for the
 * garbage collector (ADR 008, 009).
 */
export class RoutePublisher {
  /** The table last given to the gateway, and which task each of its targets is. */
  private published: readonly Route[] = [];
  private publishedTargets = new Map<string, Target>();
  /** Set when `published` is sent, reset when sending it fails: the next pass sends it again. */
  private delivered = false;
  /** The tracker's stamp the last table was made at; null: make it again. */
  private madeAt: string | null = null;
  private pushedAt = 0;
  /** Each rejected route's owner, by owner key, with the reason last told. */
  private rejected = new Map<string, { source: RouteSource; id: number }>();
  /** Tables are made and sent one at a time: a change's table is never overtaken by an older one. */
  private turn: Promise<void> = Promise.resolve();

  constructor(
    private readonly gateway: Gateway,
    private readonly health: HealthMonitor,
    private readonly tracker: ChangeTracker,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  /** When the gateway last received a table made after the given time. */
  routesPushedAt(): number {
    return this.pushedAt;
  }

  /**
   * `adopted`: the running tasks a starting server found, which stay routed until their first
   * probe; while it is given, a failed first probe counts without changing a task's state, so
   * the table is made on every pass.
   */
  publish(sources: readonly SourcedTasks[], adopted: ReadonlySet<string> | null): Promise<void> {
    return this.inTurn(async () => {
      // While adopting the table is made on every pass; the pass after the grace ends, once more.
      const stamp = `${this.tracker.stamp()}${adopted === null ? '' : ' adopting'}`;
      if (this.delivered && adopted === null && stamp === this.madeAt) {
        this.pushedAt = this.clock.now();
        return;
      }
      const { routes, owners, monitored } = this.make(sources, adopted);
      this.health.watch(monitored);
      const rejections = await this.push(routes);
      if (rejections !== null) this.tell(routes, owners, rejections);
      this.madeAt = stamp;
      this.pushedAt = this.clock.now();
    });
  }

  /**
   * Sends the gateway the table it serves changed by `edit`, then runs `commit`, which makes
   * the same change in the store; no other table is sent in between. Until `commit` the store
   * does not know of the change: a kill before it leaves the store as it was, and the next
   * table, made from the store, undoes the edit (a colour switch, ADR 011). The table edited is
   * the last one sent, so a target taken out since (withdraw) stays out.
   */
  change(edit: (routes: readonly Route[]) => Route[], commit: () => void): Promise<void> {
    return this.inTurn(async () => {
      if (!this.delivered) throw new GatewayUnavailableError('the gateway has not taken the current route table yet; try again in a moment');
      try {
        await this.send(edit(this.published));
        commit();
      } finally {
        // Made again from the store next pass: the same table once committed, the one before if not.
        this.madeAt = null;
      }
    });
  }

  private make(sources: readonly SourcedTasks[], adopted: ReadonlySet<string> | null): { routes: OwnedRoute[]; owners: RouteSource[]; monitored: ProbedTask[] } {
    const routes: OwnedRoute[] = [];
    const monitored: ProbedTask[] = [];
    const owners: RouteSource[] = [];
    for (const { source, tasks } of sources) {
      const made = source.routes(tasks, adopted);
      for (const route of made.routes) {
        routes.push(route);
        owners.push(source);
      }
      monitored.push(...made.monitored);
    }
    return { routes, owners, monitored };
  }

  private inTurn(work: () => Promise<void>): Promise<void> {
    const run = this.turn.then(work);
    // The chain only orders the work; each failure goes to the caller that asked for it.
    this.turn = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /**
   * Takes a dead task out of the gateway as soon as the runtime reports it, without waiting
   * for the pass the event asks for: until then every request sent to it stalls on a connect
   * to an address that no longer exists, or fails.
   */
  withdraw(taskId: string): void {
    const gone = this.publishedTargets.get(taskId);
    if (!gone) return;
    this.publishedTargets.delete(taskId);
    this.madeAt = null;
    const alive = (t: Target): boolean => t.host !== gone.host || t.port !== gone.port;
    const routes = this.published.map((route) => ({
      ...route,
      targets: route.targets.filter(alive),
      ...(route.colours ? { colours: route.colours.map((c) => ({ colour: c.colour, targets: c.targets.filter(alive) })) } : {}),
    }));
    this.send(routes).catch((error: unknown) => {
      this.logger.warn(`taking task ${taskId.slice(0, 12)} out of the gateway failed: ${(error as Error).message}`);
    });
  }

  /** Sends the routes (and learns which task each target is); see send. */
  private push(routes: readonly OwnedRoute[]): Promise<readonly RouteRejection[] | null> {
    const targets = new Map<string, Target>();
    const learn = (list: readonly Target[], taskIds: readonly string[]): void => list.forEach((target, i) => targets.set(taskIds[i] as string, target));
    for (const route of routes) {
      learn(route.targets, route.taskIds);
      for (const colour of route.colours ?? []) learn(colour.targets, colour.taskIds);
    }
    this.publishedTargets = targets;
    return this.send(
      routes.map((r) => ({
        prefix: r.prefix,
        targets: r.targets,
        ...(r.stripPrefix ? { stripPrefix: true } : {}),
        ...(r.colours ? { colours: r.colours.map((c) => ({ colour: c.colour, targets: c.targets })) } : {}),
      })),
    );
  }

  /** Sends the table unless the gateway has it already; answers the routes it left out, null when not sent. */
  private async send(routes: readonly Route[]): Promise<readonly RouteRejection[] | null> {
    if (this.delivered && sameRoutes(routes, this.published)) return null;
    this.published = routes;
    this.delivered = true;
    try {
      return await this.gateway.setRoutes(routes);
    } catch (error) {
      this.delivered = false;
      throw error;
    }
  }

  /** Each left-out route is told to its owner; an owner served again is told so. */
  private tell(routes: readonly OwnedRoute[], owners: readonly RouteSource[], rejections: readonly RouteRejection[]): void {
    const now = new Map<string, { source: RouteSource; id: number }>();
    for (const rejection of rejections) {
      const route = routes[rejection.index];
      const source = owners[rejection.index];
      if (!route || !source) continue;
      const key = `${route.owner.kind}:${route.owner.id}`;
      if (!this.rejected.has(key)) this.logger.warn(`${route.owner.label}: the gateway left its route out: ${rejection.reason}`);
      now.set(key, { source, id: route.owner.id });
      source.routeRejected(route.owner.id, rejection.reason);
    }
    for (const [key, { source, id }] of this.rejected) if (!now.has(key)) source.routeRejected(id, null);
    this.rejected = now;
  }
}
