import { restartDelayMs, STABLE_RUN_MS } from '../domain/backoff.js';
import type { ServiceDefinition } from '../domain/definition.js';
import { colourRole } from '../domain/colours.js';
import { canRollBack, mayFollowInSamePass, strategyNamed, type DeploymentStep } from '../domain/deployment.js';
import { probeFailed, stoppedTasks } from '../domain/messages.js';
import type { Clock, Deployment, Service } from '../domain/model.js';
import { contextRoot } from '../domain/names.js';
import { isAlive, type TaskRuntime } from '../runtime/task-runtime.js';
import type { Store } from '../store/store.js';
import type { OwnedRoute, PassContext, ProbedTask, RouteSource, WorkloadController } from './controller.js';
import { Evictions } from './evictions.js';
import type { FailureLog } from './failure-log.js';
import type { HealthMonitor } from './health-monitor.js';
import type { ImagePreparation } from './image-preparation.js';
import type { ImageSource } from './image-source.js';
import type { LabelledContainer } from './labels.js';
import { PassReads, type StoreReads } from './pass-reads.js';
import { ServiceHealth } from './service-health.js';
import { forEachLimited } from './limited.js';
import { joinPath, ServiceRoutes, type ServicesRead } from './service-routes.js';
import { spreadColours } from './colour-spread.js';
import { stepHandlers, type StepHandler } from './service-steps.js';
import type { NodeMoves } from './node-moves.js';
import type { TaskOps } from './task-ops.js';

export interface ServiceControllerOptions {
  readonly healthTimeoutMs: number;
  readonly drainMs: number;
  /** Images of this many newest revisions stay on the runtime. */
  readonly imagesKept: number;
  /** Services reconciled at once. */
  readonly concurrency: number;
}

export interface ServiceControllerDeps {
  readonly store: Store;
  readonly runtime: TaskRuntime;
  readonly tasks: TaskOps;
  readonly health: HealthMonitor;
  readonly images: ImageSource;
  readonly preparation: ImagePreparation;
  readonly clock: Clock;
  readonly failures: FailureLog;
  /** Called once a deleted service's tasks are all gone, before its rows are deleted. */
  readonly onServiceRemoved: (service: Service) => Promise<void>;
  readonly faults: { hit(point: string): void };
  /** When the gateway last received a table computed after the given time. */
  readonly routesPushedAt: () => number;
  /** Told of tasks their node took down, to say where they went once replaced. */
  readonly moves?: NodeMoves;
  /** A deployment failed for want of memory. */
  readonly admissionRefused: () => void;
}

const NO_TASKS: readonly LabelledContainer[] = [];
/** A bound on the steps one deployment takes in one pass. */
const MAX_STEPS_PER_PASS = 4;

/**
 * Services: tasks that must run forever, served by the gateway, replaced by deployments that
 * follow their strategy's step table. Keeps every service at its replica count, replaces
 * crashed and unhealthy tasks with backoff, and removes a deleted service's tasks.
 */
export class ServiceController implements WorkloadController<LabelledContainer>, RouteSource<LabelledContainer> {
  readonly kind = 'service' as const;
  private readonly reads: PassReads;
  private readonly steps: Readonly<Record<DeploymentStep, StepHandler>>;
  /** Tasks that passed a health check at least once; an unhealthy one among them is replaced at once. */
  private readonly everHealthy = new Set<string>();
  /** New tasks whose failing probe has been told in their service's events. */
  private readonly probeFailuresTold = new Set<string>();
  /** Revisions a service does not serve (a deployment's), read when asked for, once a pass. */
  private otherDefinitions = new Map<string, ServiceDefinition>();
  /** What this pass read of the store: read once a pass, not once a service (a pass visits hundreds). */
  private snapshot: StoreReads | null = null;
  private readonly evictions: Evictions;
  /** This pass's tasks of every service: a service's dependencies are other services' tasks. */
  private passTasks: ReadonlyMap<number, readonly LabelledContainer[]> = new Map();
  private readonly health: ServiceHealth;
  private readonly serviceRoutes: ServiceRoutes;
  private readonly view: ServicesRead = {
    services: () => this.read().services,
    openDeployments: (id) => this.openDeployments(id),
    definition: (id, revision) => this.definition(id, revision),
    isStopping: (id) => this.deps.tasks.isStopping(id) || this.evictions.isRetiring(id),
  };

  constructor(
    private readonly deps: ServiceControllerDeps,
    private readonly options: ServiceControllerOptions,
  ) {
    this.reads = new PassReads(deps.store);
    this.evictions = new Evictions(deps.tasks, options.drainMs, deps.routesPushedAt);
    this.health = new ServiceHealth(deps.health, deps.store);
    this.serviceRoutes = new ServiceRoutes(deps.store, this.health);
    this.steps = stepHandlers({
      store: deps.store,
      tasks: deps.tasks,
      healthOf: (_service, definition, task) => this.health.of(definition, task),
      dependencies: (service, definition) =>
        this.health.dependencies(service, definition, (id) => this.passTasks.get(id) ?? NO_TASKS, (id, revision) => this.definition(id, revision)),
      preparation: deps.preparation,
      images: deps.images,
      clock: deps.clock,
      healthTimeoutMs: options.healthTimeoutMs,
      drainMs: options.drainMs,
      pruneImages: (service) => this.pruneImages(service),
      exitReason: (serviceId, revision) => this.exitReason(serviceId, revision),
      admissionRefused: deps.admissionRefused,
    });
  }

  async reconcile(tasks: ReadonlyMap<number, readonly LabelledContainer[]>, pass: PassContext): Promise<boolean> {
    const reads = this.read();
    this.otherDefinitions = new Map();
    this.passTasks = tasks;
    for (const [serviceId, owned] of tasks) {
      if (reads.byService.has(serviceId)) continue;
      for (const task of owned) await this.deps.tasks.remove(task.container.id);
    }
    await forEachLimited(reads.services, this.options.concurrency, (service) => {
      const key = `reconciling ${service.project}/${service.name}`;
      try {
        const containers = tasks.get(service.id) ?? NO_TASKS;
        const work = this.atRest(service, containers) ? null : this.reconcileSteps(service, containers, pass);
        if (work === null) {
          this.deps.failures.succeeded(key);
          return null;
        }
        return work.then(
          () => this.deps.failures.succeeded(key),
          (error: unknown) => this.deps.failures.failed(key, (error as Error).message, (error as Error).stack ?? String(error)),
        );
      } catch (error) {
        this.deps.failures.failed(key, (error as Error).message, (error as Error).stack ?? String(error));
        return null;
      }
    });
    await this.deps.moves?.tell(reads.services, tasks, (service) =>
      service.currentRevision === null ? null : (this.definition(service.id, service.currentRevision)?.replicas ?? null),
    );
    return this.isBusy(tasks);
  }

  routes(tasks: ReadonlyMap<number, readonly LabelledContainer[]>, adopted: ReadonlySet<string> | null): { routes: OwnedRoute[]; monitored: ProbedTask[] } {
    return this.serviceRoutes.routes(this.view, tasks, adopted);
  }

  routeRejected(serviceId: number, reason: string | null): void {
    this.serviceRoutes.rejected(serviceId, reason);
  }

  /** Forgets tasks that no longer exist. */
  retainTasks(names: ReadonlySet<string>): void {
    for (const name of this.everHealthy) if (!names.has(name)) this.everHealthy.delete(name);
    for (const name of this.probeFailuresTold) if (!names.has(name)) this.probeFailuresTold.delete(name);
    this.evictions.retain(names);
  }

  private isBusy(tasks: ReadonlyMap<number, readonly LabelledContainer[]>): boolean {
    for (const service of this.read().services) {
      if (service.status === 'DRAINING' || this.openDeployments(service.id).length > 0) return true;
      for (const c of tasks.get(service.id) ?? NO_TASKS) {
        if (!isAlive(c.container) || this.deps.tasks.isStopping(c.container.id)) return true;
        if (this.health.of(this.definition(service.id, c.revision), c).state === 'initial') return true;
      }
    }
    return false;
  }

  /** Reads the store (only what changed since the last read) for the rest of this pass. */
  private read(): StoreReads {
    this.snapshot = this.reads.read();
    return this.snapshot;
  }

  /** A service's unfinished deployments as the pass read them, oldest first. */
  private openDeployments(serviceId: number): readonly Deployment[] {
    return (this.snapshot ?? this.read()).openDeployments.get(serviceId) ?? [];
  }

  /** A revision's definition, read at most once a pass: definitions never change. */
  private definition(serviceId: number, number: number): ServiceDefinition | null {
    const read = (this.snapshot ?? this.read()).byService.get(serviceId);
    if (read?.serving && read.service.currentRevision === number) return read.serving;
    const key = `${serviceId}:${number}`;
    const known = this.otherDefinitions.get(key);
    if (known) return known;
    const definition = this.deps.store.revisions.get(serviceId, number)?.definition ?? null;
    if (definition) this.otherDefinitions.set(key, definition);
    return definition;
  }

  /**
   * True when a reconcile would change nothing: no deployment, no crash to count down, and
   * exactly the wanted number of tasks, all of the serving revision, running and healthy.
   * Checked without an async call: a pass visits every service, and a promise for each was
   * most of what a pass at rest allocated (ADR 008).
   */
  private atRest(service: Service, containers: readonly LabelledContainer[]): boolean {
    // A service with colours runs nothing of its own: its colours are rows of their own.
    if (colourRole(service) === 'coloured' && service.status !== 'DRAINING') return true;
    const current = service.currentRevision;
    if (current === null || service.status === 'DRAINING' || !service.steady || service.crashCount > 0) return false;
    if (service.desiredState !== 'running' || service.kill !== null || this.openDeployments(service.id).length > 0) return false;
    const definition = this.definition(service.id, current);
    if (containers.length !== definition?.replicas) return false;
    for (const task of containers) {
      if (task.revision !== current || task.container.state !== 'running' || this.deps.tasks.isStopping(task.container.id)) return false;
      if (task.container.evicted) return false;
      if ((service.restartAt ?? 0) > task.container.createdAt.getTime()) return false;
      if (this.health.of(definition, task).state !== 'healthy') return false;
    }
    for (const task of containers) this.everHealthy.add(task.task);
    return true;
  }

  private async reconcileSteps(initial: Service, containers: readonly LabelledContainer[], pass: PassContext): Promise<void> {
    const { store } = this.deps;
    let service = initial;
    const open = this.openDeployments(service.id);
    let deployment = open[0] ?? null;
    if (deployment && open.length > 1 && canRollBack(deployment.step, strategyNamed(deployment.strategy))) {
      deployment = store.deployments.rollBack(deployment, 'superseded', `superseded by revision ${open[open.length - 1]?.revision}`);
    }
    const alive = await this.reapExited(service, deployment, containers);
    // Reaping may have recorded a crash, which the restart backoff below must see.
    if (alive.length !== containers.length) service = store.services.byId(service.id) ?? service;
    if (service.status === 'DRAINING') {
      await this.removeService(service, alive);
      return;
    }
    let remaining = alive;
    for (let steps = 0; deployment && steps < MAX_STEPS_PER_PASS; steps++) {
      const before = deployment.step;
      const removed = await this.drive(service, deployment, remaining, pass);
      remaining = remaining.filter((t) => !removed.has(t.container.id));
      service = store.services.byId(service.id) ?? service;
      const after = store.deployments.get(deployment.id);
      deployment = store.deployments.open(service.id)[0] ?? null;
      if (after?.step === before) break;
      // The next step can start now: waiting out the loop's period would add it to every deploy.
      pass.wakeAt(this.deps.clock.now());
      if (!mayFollowInSamePass(before) || deployment?.id !== after?.id) break;
    }
    await this.maintain(service, deployment, remaining, pass);
  }

  /** Advances a deployment by at most one step, by its step's handler; returns the tasks it removed. */
  private async drive(service: Service, d: Deployment, alive: readonly LabelledContainer[], pass: PassContext): Promise<ReadonlySet<string>> {
    const definition = this.definition(service.id, d.revision);
    if (!definition) throw new Error(`Deployment ${d.id} names revision ${d.revision}, which does not exist`);
    const mine = alive.filter((t) => t.revision === d.revision);
    this.deps.faults.hit(`deployment:${d.step}`);
    if (d.step === 'health-wait') this.tellProbeFailures(service, d, mine);
    return this.steps[d.step]({ service, deployment: d, definition: this.placed(service, definition), alive, mine, now: this.deps.clock.now(), pass, routesPushedAt: this.deps.routesPushedAt() });
  }

  /** A definition with the placement its tasks get now: a colour spread away from its service's other colours. */
  private placed(service: Service, definition: ServiceDefinition): ServiceDefinition {
    return spreadColours(service, definition, (this.snapshot ?? this.read()).services, (id) => this.passTasks.get(id) ?? NO_TASKS);
  }

  /**
   * A new task whose probe got an answer that is not a pass says so at once, in an event of its
   * deployment; the deployment still waits its health timeout, as a slow starter may yet
   * come up. A refused connection is no failure yet: the task is still starting.
   */
  private tellProbeFailures(service: Service, d: Deployment, mine: readonly LabelledContainer[]): void {
    for (const task of mine) {
      if (this.probeFailuresTold.has(task.task)) continue;
      const description = this.health.of(this.definition(service.id, task.revision), task).description;
      if (description === undefined || description === 'connection refused') continue;
      this.probeFailuresTold.add(task.task);
      const path = joinPath(contextRoot(service.project, service.name), service.healthCheck.relPath);
      this.deps.store.events.add(service.id, probeFailed(task.task, path, description), d.id);
    }
  }

  /** Revisions whose exits are crashes: the one serving, and a deployment's before it serves. */
  private wantedRevisions(service: Service, deployment: Deployment | null): Set<number> {
    const wanted = new Set<number>();
    if (service.currentRevision !== null) wanted.add(service.currentRevision);
    if (deployment && (deployment.step === 'starting' || deployment.step === 'health-wait')) wanted.add(deployment.revision);
    return wanted;
  }

  private async reapExited(service: Service, deployment: Deployment | null, containers: readonly LabelledContainer[]): Promise<LabelledContainer[]> {
    const wanted = this.wantedRevisions(service, deployment);
    const alive: LabelledContainer[] = [];
    for (const task of containers) {
      if (isAlive(task.container)) {
        alive.push(task);
        continue;
      }
      if (task.container.state === 'removing') continue;
      const counts = service.status !== 'DRAINING' && service.desiredState === 'running' && wanted.has(task.revision);
      const restart = this.definition(service.id, task.revision)?.stack?.restart ?? null;
      const { outcome, message, lost } = await this.deps.tasks.reap(service, task, restart, counts, deployment?.id ?? null);
      const serving = task.revision === service.currentRevision;
      if (message === null || (!serving && task.revision !== deployment?.revision)) continue;
      // Lost with its node: no fault of the task's, so no backoff; its replacement starts at once.
      if (outcome === 'lost') {
        if (serving) this.deps.moves?.lost(service.id, lost ?? 'its node is gone', this.deps.clock.now());
        continue;
      }
      // A crash of the serving revision counts toward its backoff; a new revision's crash fails its deployment.
      if (outcome === 'crash') {
        if (serving) this.deps.store.services.recordCrash(service.id, this.deps.clock.now(), message);
        continue;
      }
      // A task that is not to be restarted leaves the service as it ended, until the next up or
      // start; a new revision's task that completed has done what its deployment asked.
      if (!containers.some((t) => t !== task && t.revision === task.revision && isAlive(t.container))) {
        this.deps.store.services.setDesiredState(service.id, outcome === 'completed' ? 'completed' : 'exited');
      }
    }
    return alive;
  }

  private async removeService(service: Service, alive: readonly LabelledContainer[]): Promise<void> {
    await this.stopAll(service, alive, null);
    if (alive.length > 0) return;
    const role = colourRole(service);
    // A service's colours refer to its row, which goes after theirs.
    if (role === 'coloured' && this.read().services.some((s) => s.colourOf === service.id)) return;
    // What a service owns besides its rows (its repository) is its own, not one colour's.
    if (role !== 'colour') await this.deps.onServiceRemoved(service);
    this.deps.store.services.delete(service.id);
  }

  private async stopAll(service: Service, tasks: readonly LabelledContainer[], deploymentId: number | null): Promise<void> {
    const signalled: string[] = [];
    for (const task of tasks) {
      if (await this.deps.tasks.stop(task)) signalled.push(task.task);
    }
    if (signalled.length > 0) this.deps.store.events.add(service.id, stoppedTasks(signalled), deploymentId);
  }

  /** Keeps the serving revision at its replica count and stops tasks of other revisions. */
  private async maintain(service: Service, d: Deployment | null, alive: readonly LabelledContainer[], pass: PassContext): Promise<void> {
    const { store, tasks, clock } = this.deps;
    const current = service.currentRevision;
    const deploying = d && ['pending', 'stopping-old', 'starting', 'health-wait', 'rolling-back'].includes(d.step) ? d.revision : null;
    // Old tasks keep serving in-flight requests until the drain period ends.
    const draining = d?.step === 'switching' || d?.step === 'draining';
    const strays = alive.filter((t) => t.revision !== current && t.revision !== deploying);
    if (!draining) await this.stopAll(service, strays, d?.id ?? null);
    await this.deliverKill(service, alive);
    // Stopped by the user, or ended for good under its restart policy: nothing is started again.
    if (service.desiredState !== 'running') {
      if (service.desiredState === 'stopped') await this.stopAll(service, alive.filter((t) => t.revision === current), null);
      return;
    }
    // A stop-first deployment has stopped (or is stopping) the old tasks: they are not replaced meanwhile.
    const replacing = d?.strategy === 'stop-first' && ['stopping-old', 'starting', 'health-wait'].includes(d.step);

    for (const task of alive) {
      if (task.container.state === 'created' && (task.revision === current || task.revision === deploying)) await tasks.start(task.container.id);
    }
    if (current === null || replacing) return;
    const definition = this.definition(service.id, current);
    if (!definition) return;
    const replicas = definition.replicas;
    const now = clock.now();
    // `compose restart`: the tasks made before it are replaced, one stop at a time as any stop.
    const restarted = alive.filter((t) => t.revision === current && (service.restartAt ?? 0) > t.container.createdAt.getTime());
    if (restarted.length > 0) await this.stopAll(service, restarted, null);
    const inCurrent = alive.filter((t) => t.revision === current && !tasks.isStopping(t.container.id));
    // Tasks on a node being drained serve until their replacements, which do not count them, are healthy.
    const leaving = inCurrent.filter((t) => t.container.evicted);
    const serving = inCurrent.filter((t) => !t.container.evicted);

    if (serving.length < replicas) {
      const due = (service.lastCrashAt ?? 0) + restartDelayMs(service.crashCount);
      if (service.crashCount > 0 && now < due) {
        pass.wakeAt(due);
        return;
      }
      const image = await this.deps.images.resolve(service.project, service.name, definition);
      await tasks.startTasks(service, current, this.placed(service, definition), image, replicas - serving.length, null);
      return;
    }
    if (serving.length > replicas) {
      await this.stopAll(service, serving.slice(replicas), null);
      return;
    }
    const unhealthy = this.unhealthy(serving, now);
    if (unhealthy.length > 0) {
      await this.replaceUnhealthy(service, unhealthy, now);
      return;
    }
    const healthy = serving.every((t) => t.container.state === 'running' && this.health.of(definition, t).state === 'healthy');
    const moved = healthy ? this.evictions.due(leaving, now, pass) : [];
    if (moved.length > 0) {
      store.events.add(service.id, `moved ${moved.length} task${moved.length === 1 ? '' : 's'} off a node being drained (${moved.map((t) => t.task).join(', ')})`);
      await this.stopAll(service, moved, null);
    }
    if (!d && healthy && !service.steady) {
      store.transaction(() => {
        store.services.setSteady(service.id, true);
        store.events.add(service.id, 'reached a steady state');
      });
    }
    if (service.crashCount > 0 && healthy && serving.every((t) => now - t.container.createdAt.getTime() >= STABLE_RUN_MS)) {
      store.services.resetCrashes(service.id);
    } else if (service.crashCount > 0) {
      pass.wakeAt(now + STABLE_RUN_MS);
    }
  }

  /** `compose kill -s SIGNAL`: the signal goes to the tasks made before it was asked, once. */
  private async deliverKill(service: Service, alive: readonly LabelledContainer[]): Promise<void> {
    const kill = service.kill;
    if (kill === null) return;
    for (const task of alive) {
      if (task.container.state === 'running' && task.container.createdAt.getTime() <= kill.at) await this.deps.tasks.signal(task, kill.signal);
    }
    this.deps.store.transaction(() => {
      this.deps.store.services.killSent(service.id, kill.at);
      this.deps.store.events.add(service.id, `sent ${kill.signal} to ${alive.filter((t) => t.container.state === 'running').length} task(s)`);
    });
  }

  /**
   * The serving tasks that fail their health checks: they are already out of the gateway,
   * and are stopped so that replacements start. A task that has never been healthy gets
   * the health timeout to start, so a slow starter is not killed in a loop.
   */
  private unhealthy(serving: readonly LabelledContainer[], now: number): LabelledContainer[] {
    const replace: LabelledContainer[] = [];
    for (const task of serving) {
      const health = this.health.of(this.definition(task.serviceId, task.revision), task);
      if (health.state === 'healthy') this.everHealthy.add(task.task);
      if (health.state !== 'unhealthy' || task.container.state !== 'running') continue;
      const grown = now - task.container.createdAt.getTime() >= this.options.healthTimeoutMs;
      if (this.everHealthy.has(task.task) || grown) replace.push(task);
    }
    return replace;
  }

  private async replaceUnhealthy(service: Service, tasks: readonly LabelledContainer[], now: number): Promise<void> {
    const { store } = this.deps;
    for (const task of tasks) {
      const message = `task ${task.task} is unhealthy (${this.health.of(this.definition(service.id, task.revision), task).description ?? 'failed its health check'}); replacing it`;
      store.transaction(() => {
        store.events.add(service.id, message);
        store.services.recordCrash(service.id, now, message);
      });
      this.everHealthy.delete(task.task);
      await this.deps.tasks.stop(task);
    }
  }

  /**
   * Disk fills with images on every platform that never removes them: keep the runtime's
   * copies of the newest revisions' images and remove older ones that only this service
   * uses. An image still used by a task stays.
   */
  private async pruneImages(service: Service): Promise<void> {
    const revisions = this.deps.store.revisions.list(service.id);
    const owned = (d: ServiceDefinition): string | null => this.deps.images.owned(service.project, service.name, d);
    const keep = new Set(revisions.slice(0, this.options.imagesKept).map((r) => owned(r.definition)));
    // Colours share their service's repository: another colour's newest images stay too.
    for (const sibling of service.colourOf === null ? [] : this.deps.store.services.coloursOf(service.colourOf)) {
      for (const r of this.deps.store.revisions.list(sibling.id).slice(0, this.options.imagesKept)) keep.add(owned(r.definition));
    }
    const old = new Set(revisions.slice(this.options.imagesKept).map((r) => owned(r.definition)));
    for (const reference of old) {
      if (reference !== null && !keep.has(reference)) await this.deps.runtime.removeImage(reference);
    }
  }

  private exitReason(serviceId: number, revision: number): string {
    const last = this.deps.store.taskLogs.list(serviceId, 20).find((l) => l.revision === revision);
    if (!last) return 'a new task stopped before it became healthy';
    const tail = last.lines.slice(-3).map((l) => l.message).join(' | ');
    return `task ${last.taskName} exited with code ${last.exitCode ?? 'unknown'} before it became healthy${tail ? `; last output: ${tail}` : ''}`;
  }
}
