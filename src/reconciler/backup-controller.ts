import { backupsToPrune, compareCounts, type Backup } from '../domain/backup.js';
import type { Database } from '../domain/database.js';
import { ENGINES, fileExtension } from '../domain/database-engines.js';
import type { Clock } from '../domain/model.js';
import { nextRunAfter } from '../domain/schedule.js';
import type { Store } from '../store/store.js';
import { BackgroundWork } from './background-work.js';
import type { PassContext } from './controller.js';
import type { DatabaseTasks } from './database-tasks.js';
import type { DumpStorage } from './dump-storage.js';
import type { FailureLog } from './failure-log.js';
import type { FaultPoints } from './fault-points.js';
import type { DatabaseTask } from './labels.js';
import { ensureScratch } from './scratch-tasks.js';

export interface BackupControllerDeps {
  readonly store: Store;
  readonly tasks: DatabaseTasks;
  readonly storage: DumpStorage;
  readonly clock: Clock;
  readonly failures: FailureLog;
  readonly faults: FaultPoints;
  /** Asks for a pass when background work settles. */
  readonly kick: () => void;
}

/**
 * Backups: queued by a database's schedule or by a user, taken one at a time (a consistent dump
 * with the counts of its snapshot, written atomically and checksummed), then proven: restored
 * into a scratch task of the same image and counted. Only then is one `verified`; one that fails
 * stays `failed`, with an event that says why. Each state is in the store, so a server killed at
 * any point takes or checks the backup again from its start; no half-written file is listed.
 */
export class BackupController {
  private readonly work: BackgroundWork;
  private leftoversCleared = false;
  /** What a settled verification found, until the pass that records it. */
  private readonly verdicts = new Map<number, { reason: string | null; ms: number }>();
  /** Backups whose scratch task this process made: one found after a restart may hold half a load. */
  private readonly scratchMadeHere = new Set<number>();

  constructor(
    private readonly deps: BackupControllerDeps,
    private readonly options: { readonly readyTimeoutMs: number },
  ) {
    this.work = new BackgroundWork(deps.kick);
  }

  async reconcile(tasks: ReadonlyMap<number, readonly DatabaseTask[]>, pass: PassContext): Promise<boolean> {
    const { store, storage } = this.deps;
    if (!this.leftoversCleared) {
      await storage.removeLeftovers(store.backups.files());
      this.leftoversCleared = true;
    }
    for (const db of store.databases.listAll()) if (db.status === 'ACTIVE' && db.backupSchedule !== null) this.schedule(db, pass);
    const open = store.backups.open();
    const scratch = new Map<string, DatabaseTask>();
    for (const task of [...tasks.values()].flat()) if (task.purpose?.startsWith('backup:')) scratch.set(task.purpose, task);
    const checking = new Set(open.filter((b) => b.status === 'verifying').map((b) => `backup:${b.id}`));
    for (const [purpose, task] of scratch) if (!checking.has(purpose)) await this.deps.tasks.remove(task);
    // One at a time: a dump and a restore each keep a core busy.
    const backup = open.find((b) => b.status !== 'queued') ?? open[0];
    if (backup) {
      const db = store.databases.byId(backup.databaseId) as Database;
      const key = `backup ${backup.id} of ${db.project}/${db.name}`;
      try {
        await this.advance(db, backup, tasks.get(db.id) ?? [], scratch.get(`backup:${backup.id}`), pass);
        this.deps.failures.succeeded(key);
      } catch (error) {
        this.deps.failures.failed(key, (error as Error).message, (error as Error).stack ?? String(error));
      }
    }
    return open.length > 0;
  }

  /** Queues the run that is due (unless one is still open) and wakes the loop for the next. */
  private schedule(db: Database, pass: PassContext): void {
    const { store, clock } = this.deps;
    const now = clock.now();
    if (db.nextBackupAt !== null && now < db.nextBackupAt) {
      pass.wakeAt(db.nextBackupAt);
      return;
    }
    const next = nextRunAfter(db.backupSchedule as string, new Date(now)).getTime();
    store.transaction(() => {
      if (db.nextBackupAt !== null) {
        const open = store.backups.ofDatabase(db.id).find((b) => b.status === 'queued' || b.status === 'taking' || b.status === 'verifying');
        if (open) store.databases.addEvent(db.id, `the scheduled backup was skipped: backup ${open.id} is still ${open.status}`);
        else store.backups.queue(db.id, 'schedule', ENGINES[db.engine].formats[0] ?? 'custom');
      }
      store.databases.setNextBackup(db.id, next);
    });
    pass.wakeAt(next);
  }

  private async advance(db: Database, backup: Backup, owned: readonly DatabaseTask[], scratch: DatabaseTask | undefined, pass: PassContext): Promise<void> {
    if (db.status !== 'ACTIVE') return this.finish(db, backup, 'failed', 'the database was removed', null);
    if (backup.status === 'verifying') return this.verify(db, backup, scratch, pass);
    const serving = owned.find((t) => t.purpose === null && t.revision === db.servingRevision);
    if (!serving || !this.deps.tasks.readiness(db, serving, pass).ready) return;
    if (backup.status === 'queued') this.deps.store.backups.setStatus(backup.id, 'taking');
    const state = this.work.ensure(`take:${backup.id}`, () => this.take(db, backup, serving));
    if (state.status === 'running') return;
    this.work.forget(`take:${backup.id}`);
    if (state.status === 'failed') this.finish(db, backup, 'failed', `the dump failed: ${state.error.message}`, null);
  }

  private async take(db: Database, backup: Backup, serving: DatabaseTask): Promise<void> {
    const target = this.deps.tasks.target(db, serving);
    if (target === null) throw new Error('its task stopped running');
    const writer = await this.deps.storage.create(`${db.project}/${db.name}/${db.name}-${backup.id}.${fileExtension(backup.format)}`);
    const started = performance.now();
    try {
      const counts = (await this.deps.tasks.drivers[db.engine].dump(target, backup.format, writer.stream, { count: true })) ?? {};
      const taken = await writer.commit();
      this.deps.store.backups.taken(backup.id, { ...taken, counts, dumpMs: Math.round(performance.now() - started) });
      this.deps.faults.hit('backup:taken');
    } catch (error) {
      await writer.abort();
      throw error;
    }
  }

  /** Restores the backup into a scratch task and counts; verified only when every count matches. */
  private async verify(db: Database, backup: Backup, scratch: DatabaseTask | undefined, pass: PassContext): Promise<void> {
    const { storage, tasks } = this.deps;
    const file = backup.file as string;
    const damaged = await storage.check(file, backup.size ?? 0, backup.sha256 ?? '');
    if (damaged !== null) return this.finish(db, backup, 'failed', damaged, null);
    const source = storage.source(file, backup.size ?? 0);
    if (scratch && !this.scratchMadeHere.has(backup.id)) {
      // A server killed while loading it left it; loading again into it would be refused or double the rows.
      await tasks.remove(scratch);
      return;
    }
    this.scratchMadeHere.add(backup.id);
    const ready = await ensureScratch(tasks, this.work, db, `backup:${backup.id}`, scratch, source);
    if (ready.state === 'failed') return this.finish(db, backup, 'failed', ready.reason, null);
    if (ready.state === 'preparing') return;
    const task = ready.task;
    const readiness = tasks.readiness(db, task, pass);
    if (!readiness.ready) {
      if (this.deps.clock.now() - task.container.createdAt.getTime() > this.options.readyTimeoutMs) {
        this.finish(db, backup, 'failed', `its scratch task did not accept connections in time (${readiness.description ?? 'no answer'})`, null);
      }
      return;
    }
    const key = `verify:${backup.id}`;
    const state = this.work.ensure(key, async () => {
      const started = performance.now();
      const target = tasks.target(db, task);
      if (target === null) throw new Error('its scratch task stopped running');
      const driver = tasks.drivers[db.engine];
      await driver.loadScratch(target, source, backup.format);
      this.deps.faults.hit('backup:restored');
      const reason = compareCounts(backup.counts ?? {}, await driver.count(target));
      this.verdicts.set(backup.id, { reason, ms: Math.round(performance.now() - started) });
    });
    if (state.status === 'running') return;
    this.work.forget(key);
    const verdict = this.verdicts.get(backup.id) ?? null;
    this.verdicts.delete(backup.id);
    if (state.status === 'failed') return this.finish(db, backup, 'failed', `restoring it failed: ${state.error.message}`, null);
    if (verdict === null) return;
    const { reason, ms } = verdict;
    this.finish(db, backup, reason === null ? 'verified' : 'failed', reason === null ? null : `restored, but its counts differ from the dump's: ${reason}`, ms);
  }

  private finish(db: Database, backup: Backup, status: 'verified' | 'failed', reason: string | null, verifyMs: number | null): void {
    const { store } = this.deps;
    this.scratchMadeHere.delete(backup.id);
    store.transaction(() => {
      store.backups.finish(backup.id, { status, reason, verifyMs });
      if (status === 'failed') store.databases.addEvent(db.id, `backup ${backup.id} FAILED verification: ${reason ?? 'unknown reason'}`);
      else store.databases.addEvent(db.id, `backup ${backup.id} verified: restored into a scratch task, every count matches (${describeCounts(backup)})`);
    });
    this.prune(db);
  }

  private prune(db: Database): void {
    const { store, storage } = this.deps;
    const inUse = new Set(store.backups.openRestores().flatMap((r) => (r.backupId === null ? [] : [r.backupId])));
    for (const old of backupsToPrune(store.backups.ofDatabase(db.id), db.backupsKept, inUse)) {
      store.backups.delete(old.id);
      if (old.file) void storage.remove(old.file).catch((error: Error) => this.deps.failures.failed(`removing backup file ${old.file}`, error.message));
    }
  }
}

function describeCounts(backup: Backup): string {
  const counts = Object.entries(backup.counts ?? {});
  if ('keys' in (backup.counts ?? {})) return `${backup.counts?.keys ?? 0} keys`;
  const rows = counts.reduce((sum, [, n]) => sum + n, 0);
  return `${counts.length} tables, ${rows} rows`;
}
