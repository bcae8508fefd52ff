import { restartDelayMs, STABLE_RUN_MS } from '../domain/backoff.js';
import type { Database } from '../domain/database.js';
import type { DeploymentStep } from '../domain/deployment.js';
import { taskExited } from '../domain/messages.js';
import type { Clock } from '../domain/model.js';
import { isAlive, type TaskRuntime } from '../runtime/task-runtime.js';
import type { Store } from '../store/store.js';
import type { PassContext, WorkloadController } from './controller.js';
import { databaseStepHandlers, type DatabaseStepHandler } from './database-steps.js';
import type { DatabaseTasks } from './database-tasks.js';
import type { DumpStorage } from './dump-storage.js';
import type { FailureLog } from './failure-log.js';
import type { ImagePreparation } from './image-preparation.js';
import type { DatabaseTask } from './labels.js';

export interface DatabaseControllerDeps {
  readonly store: Store;
  readonly runtime: TaskRuntime;
  readonly tasks: DatabaseTasks;
  readonly preparation: ImagePreparation;
  readonly backups: DumpStorage;
  readonly clock: Clock;
  readonly failures: FailureLog;
}

const NO_TASKS: readonly DatabaseTask[] = [];

/**
 * Databases: one serving task each, on the database's volume, under its name on the project's
 * network, with no route. Changes of definition are stop-first (database-steps.ts); a task that
 * dies is started again with backoff; a deleted database's tasks go, and its volume and backups
 * with them only when asked. Backups and restores have controllers of their own.
 */
export class DatabaseController implements WorkloadController<DatabaseTask> {
  readonly kind = 'database' as const;
  private readonly steps: Readonly<Record<DeploymentStep, DatabaseStepHandler>>;

  constructor(
    private readonly deps: DatabaseControllerDeps,
    options: { readonly readyTimeoutMs: number },
  ) {
    this.steps = databaseStepHandlers({ store: deps.store, tasks: deps.tasks, preparation: deps.preparation, clock: deps.clock, readyTimeoutMs: options.readyTimeoutMs });
  }

  async reconcile(tasks: ReadonlyMap<number, readonly DatabaseTask[]>, pass: PassContext): Promise<boolean> {
    const databases = this.deps.store.databases.listAll();
    const known = new Set(databases.map((d) => d.id));
    for (const [id, owned] of tasks) if (!known.has(id)) for (const task of owned) await this.deps.tasks.remove(task);
    let busy = false;
    for (const db of databases) {
      const key = `database ${db.project}/${db.name}`;
      try {
        busy = (await this.one(db, tasks.get(db.id) ?? NO_TASKS, pass)) || busy;
        this.deps.failures.succeeded(key);
      } catch (error) {
        this.deps.failures.failed(key, (error as Error).message, (error as Error).stack ?? String(error));
        busy = true;
      }
    }
    this.deps.tasks.retain(new Set([...tasks.values()].flat().map((t) => t.container.id)));
    return busy;
  }

  private async one(db: Database, owned: readonly DatabaseTask[], pass: PassContext): Promise<boolean> {
    if (db.status !== 'ACTIVE') return this.takeDown(db, owned);
    const alive = await this.reap(db, owned.filter((t) => t.purpose === null));
    if (db.step !== null) {
      const before = db.step;
      await this.steps[db.step]({ db, alive, pass, now: this.deps.clock.now() });
      if (this.deps.store.databases.byId(db.id)?.step !== before) pass.wakeAt(this.deps.clock.now());
      return true;
    }
    return this.maintain(db, alive, pass);
  }

  /** Exited serving tasks are removed; one of the serving revision that berth did not stop is a crash. */
  private async reap(db: Database, serving: readonly DatabaseTask[]): Promise<DatabaseTask[]> {
    const alive: DatabaseTask[] = [];
    for (const task of serving) {
      if (isAlive(task.container)) {
        alive.push(task);
        continue;
      }
      if (task.container.state === 'removing') continue;
      if (!this.deps.tasks.isStopping(task)) {
        const { details, lines } = await this.deps.tasks.remains(task);
        const tail = lines.slice(-3).map((l) => l.message).join(' | ');
        const message = `${taskExited(task.task, details?.exitCode ?? null, details?.oomKilled ?? false, details?.memoryLimitBytes ?? 0)}${tail ? `; last output: ${tail}` : ''}`;
        this.deps.store.transaction(() => {
          this.deps.store.databases.addEvent(db.id, message);
          if (task.revision === db.servingRevision) this.deps.store.databases.recordCrash(db.id, this.deps.clock.now());
        });
      }
      await this.deps.tasks.remove(task);
    }
    return alive;
  }

  /** Keeps one task of the serving revision running, never beside another (stop-first). */
  private async maintain(db: Database, alive: readonly DatabaseTask[], pass: PassContext): Promise<boolean> {
    const { tasks, store, clock } = this.deps;
    if (db.serving === null || db.servingRevision === null) return false;
    const current = alive.filter((t) => t.revision === db.servingRevision && !tasks.isStopping(t));
    const extra = [...alive.filter((t) => !current.includes(t)), ...current.slice(1)];
    for (const task of extra) await tasks.stop(db, task);
    const task = current[0];
    if (!task) {
      if (extra.length > 0) return true;
      const due = (db.lastCrashAt ?? 0) + restartDelayMs(db.crashCount);
      if (db.crashCount > 0 && clock.now() < due) {
        pass.wakeAt(due);
        return true;
      }
      await tasks.launch(db, db.serving, db.servingRevision, null);
      store.databases.addEvent(db.id, `started a task of revision ${db.servingRevision}`);
      return true;
    }
    if (task.container.state === 'created') await tasks.start(task);
    const readiness = tasks.readiness(db, task, pass);
    if (readiness.ready && db.crashCount > 0) {
      const age = clock.now() - task.container.createdAt.getTime();
      if (age >= STABLE_RUN_MS) store.databases.resetCrashes(db.id);
      else pass.wakeAt(task.container.createdAt.getTime() + STABLE_RUN_MS);
    }
    return !readiness.ready || extra.length > 0;
  }

  /** `db rm`: its tasks stop; then its volume and backups go with --delete-data, else they stay for a later `db create`. */
  private async takeDown(db: Database, owned: readonly DatabaseTask[]): Promise<boolean> {
    const { store, tasks } = this.deps;
    for (const task of owned) {
      if (isAlive(task.container)) await tasks.stop(db, task);
      else if (task.container.state !== 'removing') await tasks.remove(task);
    }
    if (owned.length > 0 || db.status === 'REMOVED') return owned.length > 0;
    if (!db.deleteData) {
      store.transaction(() => {
        store.databases.setStatus(db.id, 'REMOVED');
        store.databases.addEvent(db.id, 'removed; its volume, password and backups are kept: `berth db create` of the same name brings it back');
      });
      return false;
    }
    const inUse = await this.deps.runtime.removeVolumes(this.deps.tasks.volumeLabels(db));
    if (inUse.length > 0) return true;
    for (const backup of store.backups.ofDatabase(db.id)) if (backup.file) await this.deps.backups.remove(backup.file);
    store.databases.delete(db.id);
    return false;
  }
}
