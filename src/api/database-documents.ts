import type { Static } from '@sinclair/typebox';
import type { Backup } from '../domain/backup.js';
import type { Database } from '../domain/database.js';
import { ENGINES } from '../domain/database-engines.js';
import type { DatabaseEvent } from '../domain/database.js';
import type { DatabaseRestore } from '../domain/restore.js';
import { isRestoreOpen } from '../domain/restore.js';
import type { BackupDoc, DatabaseDoc, DatabaseSummaryDoc, RestoreDoc } from './database-schemas.js';
import type { ObservedDatabase } from './ports.js';

const iso = (ms: number): string => new Date(ms).toISOString();

/** One word for what a database is doing, from the store and its task. */
export function databaseState(db: Database, observed: ObservedDatabase, restoring: boolean): string {
  if (db.status === 'REMOVED') return 'removed';
  if (db.status === 'DELETING') return 'deleting';
  if (restoring) return 'restoring';
  if (db.step !== null) return db.serving === null ? 'starting' : 'updating';
  if (db.serving === null) return 'failed';
  return observed.state === 'running' && observed.ready !== false ? 'ready' : 'starting';
}

export function databaseSummary(db: Database, status: string): Static<typeof DatabaseSummaryDoc> {
  return { name: db.name, engine: db.engine, status, image: (db.serving ?? db.definition).image, host: db.name, port: ENGINES[db.engine].port };
}

export function backupDoc(b: Backup): Static<typeof BackupDoc> {
  return {
    id: b.id,
    status: b.status,
    verified: b.status === 'verified',
    trigger: b.trigger,
    format: b.format,
    size: b.size,
    sha256: b.sha256,
    counts: b.counts === null ? null : { ...b.counts },
    dump_seconds: b.dumpMs === null ? null : b.dumpMs / 1000,
    verify_seconds: b.verifyMs === null ? null : b.verifyMs / 1000,
    reason: b.reason,
    created_at: iso(b.createdAt),
    finished_at: b.finishedAt === null ? null : iso(b.finishedAt),
  };
}

export function restoreDoc(r: DatabaseRestore): Static<typeof RestoreDoc> {
  return { id: r.id, status: r.status, backup: r.backupId, size: r.size, reason: r.reason, created_at: iso(r.createdAt), finished_at: r.finishedAt === null ? null : iso(r.finishedAt) };
}

export function databaseDoc(
  db: Database,
  observed: ObservedDatabase,
  parts: { backups: readonly Backup[]; restores: readonly DatabaseRestore[]; events: readonly DatabaseEvent[] },
): Static<typeof DatabaseDoc> {
  const restore = parts.restores[0] ?? null;
  const state = databaseState(db, observed, restore !== null && isRestoreOpen(restore.status));
  const definition = db.serving ?? db.definition;
  return {
    ...databaseSummary(db, state),
    revision: db.servingRevision ?? db.revision,
    memory_reservation: definition.memoryReservationMiB,
    memory_limit: definition.memoryLimitMiB,
    task: observed.task,
    task_state: observed.state,
    reason: db.reason,
    backup_schedule: db.backupSchedule,
    keep: db.backupsKept,
    next_backup_at: db.nextBackupAt === null ? null : iso(db.nextBackupAt),
    last_backup: parts.backups[0] ? backupDoc(parts.backups[0]) : null,
    restore: restore ? restoreDoc(restore) : null,
    events: parts.events.map((e) => ({ created_at: iso(e.createdAt), message: e.message })),
  };
}
