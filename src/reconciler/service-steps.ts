import type { ServiceDefinition } from '../domain/definition.js';
import { nextStep, strategyNamed, type DeploymentStep, type RollbackCause } from '../domain/deployment.js';
import type { Clock, Deployment, Service } from '../domain/model.js';
import { checkPlacement, placeOnNodes, type NodesResult } from '../domain/placement.js';
import { placementConstraints } from '../domain/placement-constraints.js';
import type { Store } from '../store/store.js';
import type { PassContext } from './controller.js';
import type { TaskHealth } from './health-monitor.js';
import type { ImagePreparation } from './image-preparation.js';
import type { ImageSource } from './image-source.js';
import type { LabelledContainer } from './labels.js';
import type { TaskOps } from './task-ops.js';

/** What a step's handler is given: the deployment, its service and tasks, and the pass. */
export interface StepContext {
  readonly service: Service;
  readonly deployment: Deployment;
  readonly definition: ServiceDefinition;
  /** The service's live tasks. */
  readonly alive: readonly LabelledContainer[];
  /** Those of the deployment's revision. */
  readonly mine: readonly LabelledContainer[];
  readonly now: number;
  readonly pass: PassContext;
  /** When the gateway last received a table computed after the given time. */
  readonly routesPushedAt: number;
}

/** A step's work; answers the tasks it removed. Each handler is idempotent: a pass may repeat it after a crash. */
export type StepHandler = (step: StepContext) => Promise<ReadonlySet<string>>;

/** Whether a service's dependencies (compose's depends_on) let it start, and if not, why. */
export type DependencyVerdict = { readonly ready: true } | { readonly ready: false; readonly failed: boolean; readonly why: string };

export interface StepDeps {
  readonly store: Store;
  readonly tasks: TaskOps;
  /** A task's health, from whichever source its service uses (the prober, the engine, its running). */
  readonly healthOf: (service: Service, definition: ServiceDefinition, task: LabelledContainer) => TaskHealth;
  readonly dependencies: (service: Service, definition: ServiceDefinition) => DependencyVerdict;
  /** Gets a deployment's image onto the runtime (pulling it when needed), in its pending step. */
  readonly preparation: ImagePreparation;
  readonly images: ImageSource;
  readonly clock: Clock;
  readonly healthTimeoutMs: number;
  readonly drainMs: number;
  /** After a deployment succeeded: images of old revisions go. */
  readonly pruneImages: (service: Service) => Promise<void>;
  /** Why a new task stopped before it became healthy, from its last lines. */
  readonly exitReason: (serviceId: number, revision: number) => string;
  readonly admissionRefused: () => void;
}

const NONE: ReadonlySet<string> = new Set();

/**
 * The handler of every deployment step, keyed by step. A strategy (domain/deployment.ts) says
 * which step follows which; these say what each step does. A new strategy adds the handlers
 * of its new steps here, next to the others, not a branch inside them.
 */
export function stepHandlers(deps: StepDeps): Readonly<Record<DeploymentStep, StepHandler>> {
  const { store } = deps;
  const rollBack = (d: Deployment, cause: RollbackCause, reason: string): ReadonlySet<string> => {
    store.deployments.rollBack(d, cause, reason);
    return NONE;
  };
  const finished: StepHandler = async () => NONE;
  const advance = (d: Deployment): Deployment => store.deployments.advance(d, nextStep(d.step, strategyNamed(d.strategy)));
  const succeed = async (service: Service, d: Deployment): Promise<void> => {
    store.transaction(() => {
      store.deployments.advance(d, 'succeeded');
      store.events.add(service.id, `deployment of revision ${d.revision} finished`, d.id);
    });
    await deps.pruneImages(service);
  };
  return {
    pending: async ({ service, deployment: d, definition, pass, now }) => {
      const dependencies = deps.dependencies(service, definition);
      if (!dependencies.ready) {
        if (dependencies.failed) return rollBack(d, 'failed', dependencies.why);
        const deadline = d.stepStartedAt + deps.healthTimeoutMs;
        if (now >= deadline) return rollBack(d, 'failed', `${dependencies.why} for ${Math.round(deps.healthTimeoutMs / 1000)} s`);
        pass.wakeAt(Math.min(deadline, now + 1_000));
        return NONE;
      }
      const placement = await place(definition, pass);
      if (!placement.fits) {
        deps.admissionRefused();
        return rollBack(d, 'failed', placement.reason);
      }
      const image = await deps.preparation.prepare(`image:deployment:${d.id}`, service.project, service.name, definition);
      if (image.status === 'pulling') return NONE;
      if (image.status === 'failed') return rollBack(d, 'failed', image.reason);
      for (const node of placement.nodes) pass.reserve(definition.memoryReservationMiB, node);
      store.transaction(() => {
        advance(d);
        store.events.add(service.id, `deployment of revision ${d.revision} started`, d.id);
      });
      return NONE;
    },

    'stopping-old': async ({ deployment: d, alive, pass, now }) => {
      const old = alive.filter((t) => t.revision !== d.revision);
      for (const task of old) await deps.tasks.stop(task);
      if (old.length === 0) advance(d);
      else pass.wakeAt(now + 100);
      return NONE;
    },

    starting: async ({ service, deployment: d, definition, mine }) => {
      const missing = definition.replicas - mine.length;
      if (missing > 0) {
        // Its pending step got the image onto the runtime.
        const image = await deps.images.resolve(service.project, service.name, definition);
        await deps.tasks.startTasks(service, d.revision, definition, image, missing, d.id);
      }
      advance(d);
      return NONE;
    },

    'health-wait': async ({ service, deployment: d, definition, mine, now, pass }) => {
      // A one-shot task (restart "no" or on-failure) that ended with 0: the revision did its work.
      if (mine.length === 0 && service.desiredState === 'completed') {
        advance(d);
        return NONE;
      }
      if (mine.length < definition.replicas) return rollBack(d, 'failed', deps.exitReason(service.id, d.revision));
      const states = mine.map((t) => ({ task: t, health: deps.healthOf(service, definition, t) }));
      if (states.every((s) => s.task.container.state === 'running' && s.health.state === 'healthy')) {
        advance(d);
        return NONE;
      }
      const deadline = d.stepStartedAt + deps.healthTimeoutMs;
      if (now >= deadline) {
        const details = states
          .filter((s) => s.health.state !== 'healthy')
          .map((s) => `${s.task.task}: ${s.health.description ?? notServing(s.task)}`)
          .join('; ');
        return rollBack(d, 'failed', `new tasks did not become healthy within ${Math.round(deps.healthTimeoutMs / 1000)} s (${details})`);
      }
      pass.wakeAt(deadline);
      return NONE;
    },

    switching: async ({ service, deployment: d }) => {
      const switched = store.transaction(() => {
        if (d.previousRevision !== null && d.previousRevision !== d.revision) {
          store.revisions.setStatus(service.id, d.previousRevision, 'INACTIVE');
        }
        store.revisions.setStatus(service.id, d.revision, 'ACTIVE');
        store.services.setCurrentRevision(service.id, d.revision);
        store.services.resetCrashes(service.id);
        store.services.setSteady(service.id, false);
        store.events.add(service.id, `switched traffic to revision ${d.revision}`, d.id);
        const next = advance(d);
        if (next.step === 'succeeded') store.events.add(service.id, `deployment of revision ${d.revision} finished`, d.id);
        return next;
      });
      // Stop-first has no old tasks left to drain: it is done.
      if (switched.step === 'succeeded') await deps.pruneImages(service);
      return NONE;
    },

    draining: async ({ deployment: d, alive, now, pass, routesPushedAt }) => {
      // With no old task (a first deployment), there is nothing in flight to wait for.
      const old = alive.some((t) => t.revision !== d.revision);
      const until = d.stepStartedAt + (old ? deps.drainMs : 0);
      if (now >= until && routesPushedAt > d.stepStartedAt) advance(d);
      else pass.wakeAt(until);
      return NONE;
    },

    stopping: async ({ service, deployment: d, alive }) => {
      if (alive.some((t) => t.revision !== d.revision)) return NONE;
      await succeed(service, d);
      return NONE;
    },

    'rolling-back': async ({ service, deployment: d, mine }) => {
      const removed = new Set<string>();
      for (const task of mine) {
        await deps.tasks.discard(task);
        removed.add(task.container.id);
      }
      const cause = d.rollbackTo ?? 'failed';
      store.transaction(() => {
        store.revisions.setStatus(service.id, d.revision, cause === 'failed' ? 'FAILED' : 'INACTIVE');
        store.deployments.advance(d, cause);
        store.events.add(service.id, rollbackMessage(d, cause), d.id);
      });
      return removed;
    },

    succeeded: finished,
    failed: finished,
    cancelled: finished,
    superseded: finished,
  };
}

/**
 * Where a revision's tasks would go: each on a node with room and matching its placement;
 * on several nodes, the reservations of all of them together also within --memory-capacity.
 */
async function place(definition: ServiceDefinition, pass: PassContext): Promise<NodesResult> {
  const rooms = await pass.rooms();
  const request = { replicas: definition.replicas, reservationMiB: definition.memoryReservationMiB };
  if (rooms.length > 1) {
    const total = checkPlacement({ ...request, reservedMiB: await pass.reservedMiB(), capacityMiB: await pass.capacityMiB() });
    if (!total.fits) return total;
  }
  return placeOnNodes({ ...request, constraints: placementConstraints(definition.placement), nodes: rooms });
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

/** Why a new task gives no healthy answer without a probe's word: not up yet, or waiting for a node. */
function notServing(task: LabelledContainer): string {
  if (task.container.state === 'running') return 'no healthy answer yet';
  return task.container.waiting ? `not running: ${task.container.waiting}` : 'not running';
}
