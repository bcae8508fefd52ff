import { restartDelayMs, STABLE_RUN_MS } from '../domain/backoff.js';
import type { ServiceDefinition } from '../domain/definition.js';
import { canRollBack, type RollbackCause } from '../domain/deployment.js';
import { ImageNotNamedError, ImageNotOwnedError } from '../domain/errors.js';
import { stoppedTasks } from '../domain/messages.js';
import type { Clock, Deployment, Service } from '../domain/model.js';
import { checkPlacement } from '../domain/placement.js';
import type { ContainerRuntime } from '../runtime/container-runtime.js';
import type { Store } from '../store/store.js';
import type { BackgroundWork } from './background-work.js';
import type { FaultPoints } from './fault-points.js';
import type { HealthMonitor } from './health-monitor.js';
import type { ImageSource, ImageToRun } from './image-source.js';
import { isAlive, type LabelledContainer } from './labels.js';
import type { TaskOps } from './task-ops.js';

export interface ServiceReconcilerOptions {
  readonly healthTimeoutMs: number;
  readonly drainMs: number;
  /** Images of this many newest revisions stay on the engine. */
  readonly imagesKept: number;
}

/** What one pass shares between services. */
export interface PassContext {
  /** MiB reserved on the engine, counting placements made earlier in this pass. */
  reservedMiB(): Promise<number>;
  reserve(mib: number): void;
  capacityMiB(): Promise<number>;
  /** When the gateway last received a table computed after the given time. */
  routesPushedAt(): number;
  /** Asks for another pass at the given time (backoff, deadlines). */
  wakeAt(time: number): void;
  /** A revision's definition, read at most once a pass: definitions never change. */
  definition(serviceId: number, number: number): ServiceDefinition | null;
  /** A service's unfinished deployments as of now, oldest first. */
  openDeployments(serviceId: number): readonly Deployment[];
}

/**
 * Brings one service one step closer to its desired state. Level-triggered:
 * everything it decides comes from the store and the containers it is given.
 */
export class ServiceReconciler {
  /** Tasks that passed a health check at least once; an unhealthy one among them is replaced at once. */
  private readonly everHealthy = new Set<string>();

  constructor(
    private readonly store: Store,
    private readonly runtime: ContainerRuntime,
    private readonly tasks: TaskOps,
    private readonly health: HealthMonitor,
    private readonly images: ImageSource,
    private readonly work: BackgroundWork,
    private readonly clock: Clock,
    private readonly options: ServiceReconcilerOptions,
    private readonly onServiceRemoved: (service: Service) => Promise<void>,
    private readonly faults: FaultPoints,
  ) {}

  /**
   * Returns a promise only when the service has something to do. A pass visits every
   * service, and an async call for each, with its promise, frame and closures, was most of
   * what a pass at rest allocated; the garbage it left made a pass over 300 services cost
   * more than three passes over 100 (BENCHMARKS.md, control-plane scale).
   */
  reconcile(service: Service, containers: readonly LabelledContainer[], ctx: PassContext): Promise<void> | null {
    return this.atRest(service, containers, ctx) ? null : this.reconcileSteps(service, containers, ctx);
  }

  /**
   * True when a reconcile would change nothing: no deployment, no crash to count down,
   * and exactly the wanted number of tasks, all of the serving revision, running and
   * healthy. It records what `unhealthy` would: these tasks have been healthy.
   */
  private atRest(service: Service, containers: readonly LabelledContainer[], ctx: PassContext): boolean {
    const current = service.currentRevision;
    if (current === null || service.status === 'DRAINING' || !service.steady || service.crashCount > 0) return false;
    if (ctx.openDeployments(service.id).length > 0) return false;
    if (containers.length !== ctx.definition(service.id, current)?.replicas) return false;
    for (const task of containers) {
      if (task.revision !== current || task.container.state !== 'running' || this.tasks.isStopping(task.container.id)) return false;
      if (this.health.health(task.task).state !== 'healthy') return false;
    }
    for (const task of containers) this.everHealthy.add(task.task);
    return true;
  }

  private async reconcileSteps(initial: Service, containers: readonly LabelledContainer[], ctx: PassContext): Promise<void> {
    let service = initial;
    const open = ctx.openDeployments(service.id);
    let deployment = open[0] ?? null;
    if (deployment && open.length > 1 && canRollBack(deployment.step)) {
      deployment = this.rollBack(service, deployment, 'superseded', `superseded by revision ${open[open.length - 1]?.revision}`);
    }
    const alive = await this.reapExited(service, deployment, containers);
    // Reaping may have recorded a crash, which the restart backoff below must see.
    if (alive.length !== containers.length) service = this.store.services.byId(service.id) ?? service;
    if (service.status === 'DRAINING') {
      await this.removeService(service, alive);
      return;
    }
    let remaining = alive;
    if (deployment) {
      const before = deployment.step;
      const removed = await this.drive(service, deployment, alive, ctx);
      // The next step can start now: waiting out the loop's period would add it to every deploy.
      if (this.store.deployments.get(deployment.id)?.step !== before) ctx.wakeAt(this.clock.now());
      remaining = alive.filter((t) => !removed.has(t.container.id));
      service = this.store.services.byId(service.id) ?? service;
      deployment = ctx.openDeployments(service.id)[0] ?? null;
    }
    await this.maintain(service, deployment, remaining, ctx);
  }

  /** Revisions whose exits are crashes: the one serving, and a deployment's before it serves. */
  private wantedRevisions(service: Service, deployment: Deployment | null): Set<number> {
    const wanted = new Set<number>();
    if (service.currentRevision !== null) wanted.add(service.currentRevision);
    if (deployment && (deployment.step === 'starting' || deployment.step === 'health-wait')) wanted.add(deployment.revision);
    return wanted;
  }

  private async reapExited(
    service: Service,
    deployment: Deployment | null,
    containers: readonly LabelledContainer[],
  ): Promise<LabelledContainer[]> {
    const wanted = this.wantedRevisions(service, deployment);
    const alive: LabelledContainer[] = [];
    for (const task of containers) {
      if (isAlive(task.container)) {
        alive.push(task);
        continue;
      }
      if (task.container.state === 'removing') continue;
      const crashed = service.status !== 'DRAINING' && wanted.has(task.revision);
      const message = await this.tasks.reap(service, task, crashed, deployment?.id ?? null);
      // A crash of the serving revision counts toward its backoff; a new revision's crash fails its deployment.
      if (message && task.revision === service.currentRevision) {
        this.store.services.recordCrash(service.id, this.clock.now(), message);
      }
    }
    return alive;
  }

  private async removeService(service: Service, alive: readonly LabelledContainer[]): Promise<void> {
    await this.stopAll(service, alive, null);
    if (alive.length > 0) return;
    await this.onServiceRemoved(service);
    this.store.services.delete(service.id);
  }

  private async stopAll(service: Service, tasks: readonly LabelledContainer[], deploymentId: number | null): Promise<void> {
    const signalled: string[] = [];
    for (const task of tasks) {
      if (await this.tasks.stop(task)) signalled.push(task.task);
    }
    if (signalled.length > 0) this.store.events.add(service.id, stoppedTasks(signalled), deploymentId);
  }

  private rollBack(service: Service, deployment: Deployment, cause: RollbackCause, reason: string): Deployment {
    return this.store.deployments.rollBack(deployment, cause, reason);
  }

  /** Advances a deployment by at most one step; returns the containers it removed. */
  private async drive(
    service: Service,
    d: Deployment,
    alive: readonly LabelledContainer[],
    ctx: PassContext,
  ): Promise<Set<string>> {
    const removed = new Set<string>();
    const definition = ctx.definition(service.id, d.revision);
    if (!definition) throw new Error(`Deployment ${d.id} names revision ${d.revision}, which does not exist`);
    const mine = alive.filter((t) => t.revision === d.revision);
    const now = this.clock.now();
    this.faults.hit(`deployment:${d.step}`);
    switch (d.step) {
      case 'pending': {
        const reserved = await ctx.reservedMiB();
        const placement = checkPlacement({
          replicas: definition.replicas,
          reservationMiB: definition.memoryReservationMiB,
          reservedMiB: reserved,
          capacityMiB: await ctx.capacityMiB(),
        });
        if (!placement.fits) {
          this.rollBack(service, d, 'failed', placement.reason);
          return removed;
        }
        let image: ImageToRun;
        try {
          image = await this.images.resolve(service.project, service.name, definition);
        } catch (error) {
          if (!(error instanceof ImageNotOwnedError)) throw error;
          this.rollBack(service, d, 'failed', error.message);
          return removed;
        }
        // A local image needs no pull: checking it here saves the extra pass a background job costs.
        const local = !image.alwaysPull && (await this.isNamedLocally(image));
        if (!local) {
          const key = `image:${d.id}`;
          const state = this.work.ensure(key, async () => {
            await this.images.verify(service.project, service.name, definition);
            await this.runtime.pullImage(image.reference, image.auth);
            if (!(await this.isNamedLocally(image))) {
              throw new ImageNotNamedError(`the engine holds no image named ${image.engineName}`);
            }
          });
          if (state.status === 'running') return removed;
          this.work.forget(key);
          if (state.status === 'failed') {
            this.rollBack(service, d, 'failed', `image ${image.reference} is not available: ${state.error.message}`);
            return removed;
          }
        }
        ctx.reserve(definition.replicas * definition.memoryReservationMiB);
        this.store.transaction(() => {
          this.store.deployments.advance(d, 'starting');
          this.store.events.add(service.id, `deployment of revision ${d.revision} started`, d.id);
        });
        return removed;
      }
      case 'starting': {
        const missing = definition.replicas - mine.length;
        if (missing > 0) {
          const image = await this.images.resolve(service.project, service.name, definition);
          await this.tasks.startTasks(service, d.revision, definition, image.reference, missing, d.id);
        }
        this.store.deployments.advance(d, 'health-wait');
        return removed;
      }
      case 'health-wait': {
        if (mine.length < definition.replicas) {
          this.rollBack(service, d, 'failed', this.exitReason(service.id, d.revision));
          return removed;
        }
        const states = mine.map((t) => ({ task: t, health: this.health.health(t.task) }));
        if (states.every((s) => s.task.container.state === 'running' && s.health.state === 'healthy')) {
          this.store.deployments.advance(d, 'switching');
          return removed;
        }
        const deadline = d.stepStartedAt + this.options.healthTimeoutMs;
        if (now >= deadline) {
          const details = states
            .filter((s) => s.health.state !== 'healthy')
            .map((s) => `${s.task.task}: ${s.health.description ?? (s.task.container.state === 'running' ? 'no healthy answer yet' : 'not running')}`)
            .join('; ');
          this.rollBack(
            service,
            d,
            'failed',
            `new tasks did not become healthy within ${Math.round(this.options.healthTimeoutMs / 1000)} s (${details})`,
          );
          return removed;
        }
        ctx.wakeAt(deadline);
        return removed;
      }
      case 'switching': {
        this.store.transaction(() => {
          if (d.previousRevision !== null && d.previousRevision !== d.revision) {
            this.store.revisions.setStatus(service.id, d.previousRevision, 'INACTIVE');
          }
          this.store.revisions.setStatus(service.id, d.revision, 'ACTIVE');
          this.store.services.setCurrentRevision(service.id, d.revision);
          this.store.services.resetCrashes(service.id);
          this.store.services.setSteady(service.id, false);
          this.store.deployments.advance(d, 'draining');
          this.store.events.add(service.id, `switched traffic to revision ${d.revision}`, d.id);
        });
        return removed;
      }
      case 'draining': {
        const until = d.stepStartedAt + this.options.drainMs;
        if (now >= until && ctx.routesPushedAt() > d.stepStartedAt) {
          this.store.deployments.advance(d, 'stopping');
        } else {
          ctx.wakeAt(until);
        }
        return removed;
      }
      case 'stopping': {
        if (alive.some((t) => t.revision !== d.revision)) return removed;
        this.store.transaction(() => {
          this.store.deployments.advance(d, 'succeeded');
          this.store.events.add(service.id, `deployment of revision ${d.revision} finished`, d.id);
        });
        await this.pruneImages(service);
        return removed;
      }
      case 'rolling-back': {
        for (const task of mine) {
          await this.tasks.discard(task);
          removed.add(task.container.id);
        }
        const cause = d.rollbackTo ?? 'failed';
        this.store.transaction(() => {
          this.store.revisions.setStatus(service.id, d.revision, cause === 'failed' ? 'FAILED' : 'INACTIVE');
          this.store.deployments.advance(d, cause);
          this.store.events.add(service.id, rollbackMessage(d, cause), d.id);
        });
        return removed;
      }
      case 'succeeded':
      case 'failed':
      case 'cancelled':
      case 'superseded':
        return removed;
    }
  }

  /**
   * The serving tasks that fail their health checks: they are already out of the gateway,
   * and are stopped so that replacements start. A task that has never been healthy gets
   * the health timeout to start, so a slow starter is not killed in a loop.
   */
  private unhealthy(serving: readonly LabelledContainer[], now: number): LabelledContainer[] {
    const replace: LabelledContainer[] = [];
    for (const task of serving) {
      const health = this.health.health(task.task);
      if (health.state === 'healthy') this.everHealthy.add(task.task);
      if (health.state !== 'unhealthy' || task.container.state !== 'running') continue;
      const grown = now - task.container.createdAt.getTime() >= this.options.healthTimeoutMs;
      if (this.everHealthy.has(task.task) || grown) replace.push(task);
    }
    return replace;
  }

  private async replaceUnhealthy(service: Service, tasks: readonly LabelledContainer[], now: number): Promise<void> {
    for (const task of tasks) {
      const message = `task ${task.task} is unhealthy (${this.health.health(task.task).description ?? 'failed its health check'}); replacing it`;
      this.store.transaction(() => {
        this.store.events.add(service.id, message);
        this.store.services.recordCrash(service.id, now, message);
      });
      this.everHealthy.delete(task.task);
      await this.tasks.stop(task);
    }
  }

  /**
   * Disk fills with images on every platform that never removes them: keep the
   * engine's copies of the newest revisions' images and remove older ones that
   * only this service uses. An image still used by a container stays.
   */
  private async pruneImages(service: Service): Promise<void> {
    const revisions = this.store.revisions.list(service.id);
    const keep = new Set(
      revisions.slice(0, this.options.imagesKept).map((r) => this.images.owned(service.project, service.name, r.definition)),
    );
    const old = new Set(
      revisions.slice(this.options.imagesKept).map((r) => this.images.owned(service.project, service.name, r.definition)),
    );
    for (const reference of old) {
      if (reference !== null && !keep.has(reference)) await this.runtime.removeImage(reference);
    }
  }

  /** True when the engine holds the image under its own name, not merely under an id prefix. */
  private async isNamedLocally(image: ImageToRun): Promise<boolean> {
    const names = await this.runtime.imageNames(image.reference);
    return names !== null && names.includes(image.engineName);
  }

  /** Forgets tasks that no longer exist. */
  retainTasks(names: ReadonlySet<string>): void {
    for (const name of this.everHealthy) if (!names.has(name)) this.everHealthy.delete(name);
  }

  private exitReason(serviceId: number, revision: number): string {
    const last = this.store.taskLogs.list(serviceId, 20).find((l) => l.revision === revision);
    if (!last) return 'a new task stopped before it became healthy';
    const tail = last.lines.slice(-3).map((l) => l.message).join(' | ');
    return `task ${last.taskName} exited with code ${last.exitCode ?? 'unknown'} before it became healthy${tail ? `; last output: ${tail}` : ''}`;
  }

  /** Keeps the serving revision at its replica count and stops tasks of other revisions. */
  private async maintain(service: Service, d: Deployment | null, alive: readonly LabelledContainer[], ctx: PassContext): Promise<void> {
    const current = service.currentRevision;
    const deploying = d && (d.step === 'pending' || d.step === 'starting' || d.step === 'health-wait' || d.step === 'rolling-back') ? d.revision : null;
    // Old tasks keep serving in-flight requests until the drain period ends.
    const draining = d?.step === 'switching' || d?.step === 'draining';
    const strays = alive.filter((t) => t.revision !== current && t.revision !== deploying);
    if (!draining) await this.stopAll(service, strays, d?.id ?? null);

    for (const task of alive) {
      if (task.container.state === 'created' && (task.revision === current || task.revision === deploying)) {
        await this.tasks.start(task.container.id);
      }
    }
    if (current === null) return;
    const definition = ctx.definition(service.id, current);
    if (!definition) return;
    const replicas = definition.replicas;
    const serving = alive.filter((t) => t.revision === current && !this.tasks.isStopping(t.container.id));
    const now = this.clock.now();

    if (serving.length < replicas) {
      const due = (service.lastCrashAt ?? 0) + restartDelayMs(service.crashCount);
      if (service.crashCount > 0 && now < due) {
        ctx.wakeAt(due);
        return;
      }
      const image = await this.images.resolve(service.project, service.name, definition);
      await this.tasks.startTasks(service, current, definition, image.reference, replicas - serving.length, null);
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
    const healthy = serving.every((t) => t.container.state === 'running' && this.health.health(t.task).state === 'healthy');
    if (!d && healthy && !service.steady) {
      this.store.transaction(() => {
        this.store.services.setSteady(service.id, true);
        this.store.events.add(service.id, 'reached a steady state');
      });
    }
    if (service.crashCount > 0 && healthy && serving.every((t) => now - t.container.createdAt.getTime() >= STABLE_RUN_MS)) {
      this.store.services.resetCrashes(service.id);
    } else if (service.crashCount > 0) {
      ctx.wakeAt(now + STABLE_RUN_MS);
    }
  }
}

function rollbackMessage(d: Deployment, cause: RollbackCause): string {
  switch (cause) {
    case 'failed':
      return `deployment of revision ${d.revision} failed: ${d.reason ?? 'unknown reason'}`;
    case 'cancelled':
      return `deployment of revision ${d.revision} cancelled${d.reason ? `: ${d.reason}` : ''}`;
    case 'superseded':
      return `deployment of revision ${d.revision} ${d.reason ?? 'superseded by a newer revision'}`;
  }
}
