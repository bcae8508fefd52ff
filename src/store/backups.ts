import type { Backup, BackupStatus, Counts } from '../domain/backup.js';
import type { DumpFormat } from '../domain/database-engines.js';
import type { Clock } from '../domain/model.js';
import type { DatabaseRestore, RestoreStatus } from '../domain/restore.js';
import type { Db } from './database.js';

interface BackupRow {
  id: number;
  database_id: number;
  status: BackupStatus;
  trigger: 'schedule' | 'manual';
  format: DumpFormat;
  file: string | null;
  size: number | null;
  sha256: string | null;
  counts: string | null;
  dump_ms: number | null;
  verify_ms: number | null;
  reason: string | null;
  created_at: number;
  taken_at: number | null;
  finished_at: number | null;
}

function toBackup(r: BackupRow): Backup {
  return {
    id: r.id,
    databaseId: r.database_id,
    status: r.status,
    trigger: r.trigger,
    format: r.format,
    file: r.file,
    size: r.size,
    sha256: r.sha256,
    counts: r.counts === null ? null : (JSON.parse(r.counts) as Counts),
    dumpMs: r.dump_ms,
    verifyMs: r.verify_ms,
    reason: r.reason,
    createdAt: r.created_at,
    takenAt: r.taken_at,
    finishedAt: r.finished_at,
  };
}

interface RestoreRow {
  id: number;
  database_id: number;
  backup_id: number | null;
  file: string;
  format: DumpFormat;
  size: number;
  status: RestoreStatus;
  reason: string | null;
  created_at: number;
  finished_at: number | null;
  leftover: string | null;
  receiving: number;
}

function toRestore(r: RestoreRow): DatabaseRestore {
  return {
    id: r.id,
    databaseId: r.database_id,
    backupId: r.backup_id,
    file: r.file,
    format: r.format,
    size: r.size,
    status: r.status,
    reason: r.reason,
    createdAt: r.created_at,
    finishedAt: r.finished_at,
    leftover: r.leftover,
    receiving: r.receiving === 1,
  };
}

const OPEN = "('queued', 'taking', 'verifying')";
const OPEN_RESTORE = "('queued', 'loading', 'swapping')";

/** Backups (a file under the data dir each, once taken) and restores of databases. */
export class BackupRepository {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
  ) {}

  queue(databaseId: number, trigger: Backup['trigger'], format: DumpFormat): Backup {
    const info = this.db
      .prepare("INSERT INTO backups (database_id, status, trigger, format, created_at) VALUES (?, 'queued', ?, ?, ?)")
      .run(databaseId, trigger, format, this.clock.now());
    return this.get(Number(info.lastInsertRowid)) as Backup;
  }

  get(id: number): Backup | null {
    const row = this.db.prepare('SELECT * FROM backups WHERE id = ?').get(id) as BackupRow | undefined;
    return row ? toBackup(row) : null;
  }

  /** Newest first. */
  ofDatabase(databaseId: number): Backup[] {
    return (this.db.prepare('SELECT * FROM backups WHERE database_id = ? ORDER BY id DESC').all(databaseId) as BackupRow[]).map(toBackup);
  }

  open(): Backup[] {
    return (this.db.prepare(`SELECT * FROM backups WHERE status IN ${OPEN} ORDER BY id`).all() as BackupRow[]).map(toBackup);
  }

  /** Backups kept, by status (verified, failed, or one still under way). */
  countsByStatus(): { status: BackupStatus; count: number }[] {
    return this.db.prepare('SELECT status, COUNT(*) AS count FROM backups GROUP BY status').all() as { status: BackupStatus; count: number }[];
  }

  /** When each database that is not being deleted last had a backup verified; those never verified are left out. */
  lastVerified(): { project: string; database: string; finishedAt: number }[] {
    return this.db
      .prepare(
        `SELECT d.project AS project, d.name AS database, MAX(b.finished_at) AS finishedAt FROM backups b JOIN databases d ON d.id = b.database_id
         WHERE b.status = 'verified' AND d.status = 'ACTIVE' GROUP BY d.id`,
      )
      .all() as { project: string; database: string; finishedAt: number }[];
  }

  /** Every file a backup row names: what is on disk besides them is a leftover. */
  files(): Set<string> {
    return new Set((this.db.prepare('SELECT file FROM backups WHERE file IS NOT NULL').all() as { file: string }[]).map((r) => r.file));
  }

  setStatus(id: number, status: BackupStatus): void {
    this.db.prepare('UPDATE backups SET status = ? WHERE id = ?').run(status, id);
  }

  /** The dump is on disk, complete and checksummed; verification is next. */
  taken(id: number, taken: { file: string; size: number; sha256: string; counts: Counts; dumpMs: number }): void {
    this.db
      .prepare("UPDATE backups SET status = 'verifying', file = ?, size = ?, sha256 = ?, counts = ?, dump_ms = ?, taken_at = ?, reason = NULL WHERE id = ?")
      .run(taken.file, taken.size, taken.sha256, JSON.stringify(taken.counts), taken.dumpMs, this.clock.now(), id);
  }

  /** Asks for a finished backup to be checked again. */
  reverify(id: number): void {
    this.db.prepare("UPDATE backups SET status = 'verifying', reason = NULL, finished_at = NULL WHERE id = ? AND file IS NOT NULL").run(id);
  }

  finish(id: number, verdict: { status: 'verified' | 'failed'; reason: string | null; verifyMs: number | null }): void {
    this.db
      .prepare('UPDATE backups SET status = ?, reason = ?, verify_ms = coalesce(?, verify_ms), finished_at = ? WHERE id = ?')
      .run(verdict.status, verdict.reason, verdict.verifyMs, this.clock.now(), id);
  }

  delete(id: number): void {
    this.db.prepare('DELETE FROM backups WHERE id = ?').run(id);
  }

  /** Queued with its file complete, or (`size` null) loading an upload that still arrives. */
  createRestore(input: { databaseId: number; backupId: number | null; file: string; format: DumpFormat; size: number | null }): DatabaseRestore {
    const receiving = input.size === null;
    const info = this.db
      .prepare('INSERT INTO database_restores (database_id, backup_id, file, format, size, status, receiving, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
      .run(input.databaseId, input.backupId, input.file, input.format, input.size ?? 0, receiving ? 'loading' : 'queued', receiving ? 1 : 0, this.clock.now());
    return this.restore(Number(info.lastInsertRowid)) as DatabaseRestore;
  }

  /** The upload of a restore loading while it arrived is whole on disk, `size` bytes. */
  setRestoreReceived(id: number, size: number): void {
    this.db.prepare('UPDATE database_restores SET receiving = 0, size = ? WHERE id = ?').run(size, id);
  }

  restore(id: number): DatabaseRestore | null {
    const row = this.db.prepare('SELECT * FROM database_restores WHERE id = ?').get(id) as RestoreRow | undefined;
    return row ? toRestore(row) : null;
  }

  openRestores(): DatabaseRestore[] {
    return (this.db.prepare(`SELECT * FROM database_restores WHERE status IN ${OPEN_RESTORE} ORDER BY id`).all() as RestoreRow[]).map(toRestore);
  }

  /** Newest first. */
  restoresOf(databaseId: number, limit: number): DatabaseRestore[] {
    return (this.db.prepare('SELECT * FROM database_restores WHERE database_id = ? ORDER BY id DESC LIMIT ?').all(databaseId, limit) as RestoreRow[]).map(toRestore);
  }

  /** Every file an unfinished restore still needs. */
  restoreFiles(): Set<string> {
    return new Set((this.db.prepare(`SELECT file FROM database_restores WHERE status IN ${OPEN_RESTORE}`).all() as { file: string }[]).map((r) => r.file));
  }

  /** Restores that ended with the old data still to drop. */
  restoresWithLeftovers(): DatabaseRestore[] {
    return (this.db.prepare('SELECT * FROM database_restores WHERE leftover IS NOT NULL ORDER BY id').all() as RestoreRow[]).map(toRestore);
  }

  setRestoreLeftover(id: number, leftover: string | null): void {
    this.db.prepare('UPDATE database_restores SET leftover = ? WHERE id = ?').run(leftover, id);
  }

  setRestoreStatus(id: number, status: RestoreStatus, reason: string | null = null): void {
    const finished = status === 'succeeded' || status === 'failed' ? this.clock.now() : null;
    this.db.prepare('UPDATE database_restores SET status = ?, reason = ?, finished_at = ? WHERE id = ?').run(status, reason, finished, id);
  }
}
