import type { Database } from '../domain/database.js';
import type { Clock } from '../domain/model.js';
import type { DatabaseRestore } from '../domain/restore.js';
import type { Store } from '../store/store.js';
import { BackgroundWork } from './background-work.js';
import type { PassContext } from './controller.js';
import type { DatabaseTarget, FreshDatabaseRestore, ReplicaRestore } from './database-driver.js';
import type { DatabaseTasks } from './database-tasks.js';
import type { DumpStorage } from './dump-storage.js';
import type { FailureLog } from './failure-log.js';
import type { FaultPoints } from './fault-points.js';
import type { DatabaseTask } from './labels.js';
import type { RestoreStreams, StreamedLoad } from './restore-streams.js';
import { ensureScratch } from './scratch-tasks.js';

export interface RestoreControllerDeps {
  readonly store: Store;
  readonly tasks: DatabaseTasks;
  /** Uploaded files; a backup's file is read from `backups`. */
  readonly uploads: DumpStorage;
  readonly backups: DumpStorage;
  readonly postgres: FreshDatabaseRestore;
  readonly redis: ReplicaRestore;
  /** Uploads this process loads while they arrive. */
  readonly streams: RestoreStreams;
  readonly clock: Clock;
  readonly failures: FailureLog;
  readonly faults: FaultPoints;
  readonly kick: () => void;
}

/** How long a Redis replica may take to copy a scratch task's data. */
const REPLICA_TIMEOUT_MS = 30 * 60_000;

/**
 * Restores: a dump goes into a fresh place first and only then takes the old data's place, so a
 * restore that fails leaves the old data serving. PostgreSQL loads it into a fresh database beside
 * the serving one and swaps their names; Redis loads it into a scratch task and the serving
 * server replicates from it (serving its old data until the copy is complete). Every state is in
 * the store: after a crash, loading starts again and a swap finishes. PostgreSQL's old data is
 * dropped after the restore has been reported succeeded; its name stays on the restore until it
 * is gone, so a crash before the drop does not orphan it.
 */
export class RestoreController {
  private readonly work: BackgroundWork;
  private leftoversCleared = false;

  constructor(private readonly deps: RestoreControllerDeps) {
    this.work = new BackgroundWork(deps.kick);
  }

  async reconcile(tasks: ReadonlyMap<number, readonly DatabaseTask[]>, pass: PassContext): Promise<boolean> {
    const open = this.deps.store.backups.openRestores();
    if (!this.leftoversCleared) {
      // Uploads a crash cut short, and files of restores that ended.
      await this.deps.uploads.removeLeftovers(new Set(open.filter((r) => r.backupId === null).map((r) => r.file)));
      this.leftoversCleared = true;
    }
    const wanted = new Set(open.map((r) => `restore:${r.id}`));
    for (const task of [...tasks.values()].flat()) if (task.purpose?.startsWith('restore:') && !wanted.has(task.purpose)) await this.deps.tasks.remove(task);
    for (const restore of open) {
      const db = this.deps.store.databases.byId(restore.databaseId) as Database;
      const key = `restore ${restore.id} of ${db.project}/${db.name}`;
      try {
        await this.advance(db, restore, tasks.get(db.id) ?? [], pass);
        this.deps.failures.succeeded(key);
      } catch (error) {
        this.deps.failures.failed(key, (error as Error).message, (error as Error).stack ?? String(error));
      }
    }
    const leftovers = this.deps.store.backups.restoresWithLeftovers();
    for (const restore of leftovers) await this.dropLeftover(restore, tasks.get(restore.databaseId) ?? [], pass);
    return open.length > 0 || leftovers.length > 0;
  }

  /** Drops the data a restore replaced, once its database serves and nothing else changes it. */
  private async dropLeftover(restore: DatabaseRestore, owned: readonly DatabaseTask[], pass: PassContext): Promise<void> {
    const db = this.deps.store.databases.byId(restore.databaseId);
    const leftover = restore.leftover as string;
    // A database removed with its data kept keeps the leftover too, until it serves again.
    if (!db || db.status !== 'ACTIVE' || db.step !== null) return;
    const serving = owned.find((t) => t.purpose === null && t.revision === db.servingRevision);
    if (!serving || !this.deps.tasks.readiness(db, serving, pass).ready) return;
    const target = this.deps.tasks.target(db, serving) as DatabaseTarget;
    const key = `drop ${leftover} of ${db.project}/${db.name}`;
    const state = this.settle(`drop:${restore.id}`, () => this.deps.postgres.drop(target, leftover));
    if (state === 'running') return;
    if (state instanceof Error) return this.deps.failures.failed(key, state.message, state.stack ?? String(state));
    this.deps.failures.succeeded(key);
    this.deps.store.backups.setRestoreLeftover(restore.id, null);
  }

  private async advance(db: Database, restore: DatabaseRestore, owned: readonly DatabaseTask[], pass: PassContext): Promise<void> {
    if (db.status !== 'ACTIVE') return this.finish(db, restore, 'the database was removed');
    const serving = owned.find((t) => t.purpose === null && t.revision === db.servingRevision);
    if (db.step !== null || !serving || !this.deps.tasks.readiness(db, serving, pass).ready) return;
    const target = this.deps.tasks.target(db, serving) as DatabaseTarget;
    if (restore.status === 'queued') this.deps.store.backups.setRestoreStatus(restore.id, 'loading');
    if (db.engine === 'postgres') await this.postgres(db, restore, target);
    else await this.redis(db, restore, target, owned.find((t) => t.purpose === `restore:${restore.id}`), pass);
  }

  private async postgres(db: Database, restore: DatabaseRestore, target: DatabaseTarget): Promise<void> {
    const fresh = freshDatabase(db.name, restore.id);
    const current = this.deps.store.backups.restore(restore.id) as DatabaseRestore;
    const streamed = this.deps.streams.get(restore.id);
    if (current.receiving) {
      // Never swapped before the upload is whole: a truncated SQL dump can load without error.
      if (streamed && streamed.uploadFailure === null) return;
      // The load sees the end of what arrived and ends; dropping its database before would let it make it again.
      if (streamed?.load === 'running') return;
      const reason = streamed?.uploadFailure ?? 'the server stopped before the upload was complete';
      this.deps.streams.forget(restore.id);
      return this.failLoad(db, restore, target, fresh, new Error(`the upload did not arrive whole: ${reason}`));
    }
    if (current.status === 'loading') {
      const state: StreamedLoad = streamed ? streamed.load : this.settle(`load:${restore.id}`, () => this.deps.postgres.loadFresh(target, fresh, this.source(restore), restore.format));
      if (state === 'running') return;
      this.deps.streams.forget(restore.id);
      if (state instanceof Error) return this.failLoad(db, restore, target, fresh, state);
      this.deps.store.backups.setRestoreStatus(restore.id, 'swapping');
      this.deps.faults.hit('restore:loaded');
    }
    const old = `${fresh}-old`;
    const swap = this.settle(`swap:${restore.id}`, () => this.deps.postgres.swap(target, fresh, old));
    if (swap === 'running') return;
    if (swap instanceof Error) return this.finish(db, restore, `the swap failed: ${swap.message}`);
    await this.finish(db, restore, null, old);
    this.deps.faults.hit('restore:swapped');
  }

  private async failLoad(db: Database, restore: DatabaseRestore, target: DatabaseTarget, fresh: string, error: Error): Promise<void> {
    const dropped = await this.deps.postgres.drop(target, fresh).then(
      () => '',
      (dropError: Error) => `; removing the fresh database failed too: ${dropError.message}`,
    );
    return this.finish(db, restore, `${error.message}${dropped}`);
  }

  private async redis(db: Database, restore: DatabaseRestore, target: DatabaseTarget, scratch: DatabaseTask | undefined, pass: PassContext): Promise<void> {
    const ready = await ensureScratch(this.deps.tasks, this.work, db, `restore:${restore.id}`, scratch, this.source(restore));
    if (ready.state === 'failed') return this.finish(db, restore, `the dump did not load: ${ready.reason}`);
    if (ready.state === 'preparing' || !this.deps.tasks.readiness(db, ready.task, pass).ready) return;
    const address = ready.task.container.address as string;
    const state = this.settle(`follow:${restore.id}`, async () => {
      this.deps.store.backups.setRestoreStatus(restore.id, 'swapping');
      await this.deps.redis.follow(target, address);
      const deadline = this.deps.clock.now() + REPLICA_TIMEOUT_MS;
      while (!(await this.deps.redis.caughtUp(target))) {
        if (this.deps.clock.now() >= deadline) throw new Error('the copy from the scratch task did not finish in time');
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      await this.deps.redis.unfollow(target);
    });
    if (state === 'running') return;
    if (state instanceof Error) {
      await this.deps.redis.unfollow(target);
      return this.finish(db, restore, state.message);
    }
    await this.finish(db, restore, null);
  }

  /** Runs `fn` in the background once; answers 'running', the error it failed with, or 'done'. */
  private settle(key: string, fn: () => Promise<void>): 'running' | 'done' | Error {
    const state = this.work.ensure(key, fn);
    if (state.status === 'running') return 'running';
    this.work.forget(key);
    return state.status === 'failed' ? state.error : 'done';
  }

  private source(restore: DatabaseRestore): ReturnType<DumpStorage['source']> {
    return (restore.backupId === null ? this.deps.uploads : this.deps.backups).source(restore.file, restore.size);
  }

  /** Ends the restore; `leftover` is the old data's database, dropped by a later pass. */
  private async finish(db: Database, restore: DatabaseRestore, failure: string | null, leftover: string | null = null): Promise<void> {
    const { store } = this.deps;
    store.transaction(() => {
      store.backups.setRestoreStatus(restore.id, failure === null ? 'succeeded' : 'failed', failure);
      if (leftover !== null) store.backups.setRestoreLeftover(restore.id, leftover);
      store.databases.addEvent(
        db.id,
        failure === null
          ? `restore ${restore.id} finished: the data of ${restore.backupId === null ? 'the uploaded dump' : `backup ${restore.backupId}`} serves now`
          : `restore ${restore.id} failed: ${failure}; the old data still serves`,
      );
    });
    if (restore.backupId === null) await this.deps.uploads.remove(restore.file);
  }
}

/** The database a PostgreSQL restore loads into, beside the serving one. */
export function freshDatabase(database: string, restoreId: number): string {
  return `${database}-restore-${restoreId}`;
}
