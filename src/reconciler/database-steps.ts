import type { Database } from '../domain/database.js';
import { nextStep, STOP_FIRST, type DeploymentStep } from '../domain/deployment.js';
import type { Clock } from '../domain/model.js';
import { checkPlacement } from '../domain/placement.js';
import type { Store } from '../store/store.js';
import type { PassContext } from './controller.js';
import type { DatabaseTasks } from './database-tasks.js';
import type { ImagePreparation } from './image-preparation.js';
import type { DatabaseTask } from './labels.js';

export interface DatabaseStepContext {
  readonly db: Database;
  /** The database's live serving tasks, of any revision. */
  readonly alive: readonly DatabaseTask[];
  readonly pass: PassContext;
  readonly now: number;
}

export type DatabaseStepHandler = (step: DatabaseStepContext) => Promise<void>;

export interface DatabaseStepDeps {
  readonly store: Store;
  readonly tasks: DatabaseTasks;
  readonly preparation: ImagePreparation;
  readonly clock: Clock;
  /** How long a new task may take to accept connections (initdb included). */
  readonly readyTimeoutMs: number;
}

/**
 * A change of a database's definition follows the stop-first table (domain/deployment.ts): the
 * old task stops before the new one starts, so two servers never share its data directory. Each
 * handler is idempotent: a pass repeats it after a crash. A failed change starts the serving
 * definition again.
 */
export function databaseStepHandlers(deps: DatabaseStepDeps): Readonly<Record<DeploymentStep, DatabaseStepHandler>> {
  const { store, tasks } = deps;
  const advance = (db: Database): void => store.databases.setStep(db.id, nextStep(db.step as DeploymentStep, STOP_FIRST));
  const rollBack = (db: Database, reason: string): void => {
    store.transaction(() => {
      store.databases.setStep(db.id, 'rolling-back', reason);
      store.databases.addEvent(db.id, `revision ${db.revision} failed: ${reason}`);
    });
  };
  const nothing: DatabaseStepHandler = async () => {};
  return {
    pending: async ({ db, alive, pass }) => {
      // The old task's reservation is freed before the new one starts.
      const freed = alive.reduce((sum, t) => sum + (Number(t.container.labels['io.berth.memory-reservation']) || 0), 0);
      const placement = checkPlacement({
        replicas: 1,
        reservationMiB: db.definition.memoryReservationMiB,
        reservedMiB: (await pass.reservedMiB()) - freed,
        capacityMiB: await pass.capacityMiB(),
      });
      if (!placement.fits) return rollBack(db, placement.reason);
      const image = await deps.preparation.prepare(`image:database:${db.id}:${db.revision}`, db.project, '', { image: db.definition.image, containerTag: null });
      if (image.status === 'pulling') return;
      if (image.status === 'failed') return rollBack(db, image.reason);
      pass.reserve(db.definition.memoryReservationMiB - freed);
      store.transaction(() => {
        advance(db);
        store.databases.addEvent(db.id, alive.length > 0 ? `revision ${db.revision} (${db.definition.image}): stopping the old task first` : `revision ${db.revision} (${db.definition.image}) starting`);
      });
    },

    'stopping-old': async ({ db, alive, pass, now }) => {
      for (const task of alive) await tasks.stop(db, task);
      if (alive.length === 0) advance(db);
      else pass.wakeAt(now + 200);
    },

    starting: async ({ db, alive }) => {
      if (!alive.some((t) => t.revision === db.revision)) {
        await tasks.launch(db, db.definition, db.revision, null);
      }
      advance(db);
    },

    'health-wait': async ({ db, alive, pass, now }) => {
      const task = alive.find((t) => t.revision === db.revision);
      if (!task) return rollBack(db, lastWords(store, db) ?? 'its task stopped before it accepted connections');
      const readiness = tasks.readiness(db, task, pass);
      if (readiness.ready) return advance(db);
      if (now >= db.stepStartedAt + deps.readyTimeoutMs) {
        return rollBack(db, `it did not accept connections within ${Math.round(deps.readyTimeoutMs / 1000)} s (${readiness.description ?? 'no answer'})`);
      }
    },

    switching: async ({ db }) => {
      store.transaction(() => {
        store.databases.switched(db.id);
        store.databases.addEvent(db.id, `revision ${db.revision} is ready (${db.definition.image}, ${db.definition.memoryReservationMiB}/${db.definition.memoryLimitMiB} MiB)`);
      });
    },

    'rolling-back': async ({ db, alive }) => {
      for (const task of alive.filter((t) => t.revision === db.revision && t.revision !== db.servingRevision)) await tasks.remove(task);
      store.transaction(() => {
        store.databases.rolledBack(db.id, db.reason ?? 'unknown reason');
        if (db.serving) store.databases.addEvent(db.id, `revision ${db.servingRevision} starts again`);
      });
    },

    draining: nothing,
    stopping: nothing,
    succeeded: nothing,
    failed: nothing,
    cancelled: nothing,
    superseded: nothing,
  };
}

/** The event the controller wrote when the new task exited, if any: why it stopped. */
function lastWords(store: Store, db: Database): string | null {
  const event = store.databases.events(db.id, 1)[0];
  return event && event.createdAt >= db.stepStartedAt && event.message.includes('exited') ? event.message : null;
}
