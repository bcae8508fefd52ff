import type { Database, DatabaseDefinition, DatabaseEvent, DatabaseStatus } from '../domain/database.js';
import type { DatabaseEngine } from '../domain/database-engines.js';
import type { DeploymentStep } from '../domain/deployment.js';
import type { Clock } from '../domain/model.js';
import type { Db } from './database.js';

interface Row {
  id: number;
  project: string;
  name: string;
  engine: DatabaseEngine;
  status: DatabaseStatus;
  definition: string;
  revision: number;
  serving: string | null;
  serving_revision: number | null;
  step: DeploymentStep | null;
  step_started_at: number;
  reason: string | null;
  delete_data: number;
  backup_schedule: string | null;
  backups_kept: number;
  next_backup_at: number | null;
  crash_count: number;
  last_crash_at: number | null;
  created_at: number;
}

function toDatabase(r: Row): Database {
  return {
    id: r.id,
    project: r.project,
    name: r.name,
    engine: r.engine,
    status: r.status,
    definition: JSON.parse(r.definition) as DatabaseDefinition,
    revision: r.revision,
    serving: r.serving === null ? null : (JSON.parse(r.serving) as DatabaseDefinition),
    servingRevision: r.serving_revision,
    step: r.step,
    stepStartedAt: r.step_started_at,
    reason: r.reason,
    deleteData: r.delete_data === 1,
    backupSchedule: r.backup_schedule,
    backupsKept: r.backups_kept,
    nextBackupAt: r.next_backup_at,
    crashCount: r.crash_count,
    lastCrashAt: r.last_crash_at,
    createdAt: r.created_at,
  };
}

/** Events kept per database. */
const EVENTS_KEPT = 300;

/** Managed databases and their events. Their backups and restores are in backups.ts. */
export class DatabaseRepository {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
  ) {}

  create(input: { project: string; name: string; engine: DatabaseEngine; definition: DatabaseDefinition; backupSchedule: string | null; backupsKept: number }): Database {
    const now = this.clock.now();
    const info = this.db
      .prepare(
        "INSERT INTO databases (project, name, engine, status, definition, revision, step, step_started_at, backup_schedule, backups_kept, created_at) VALUES (?, ?, ?, 'ACTIVE', ?, 1, 'pending', ?, ?, ?, ?)",
      )
      .run(input.project, input.name, input.engine, JSON.stringify(input.definition), now, input.backupSchedule, input.backupsKept, now);
    return this.byId(Number(info.lastInsertRowid)) as Database;
  }

  find(project: string, name: string): Database | null {
    const row = this.db.prepare('SELECT * FROM databases WHERE project = ? AND name = ?').get(project, name) as Row | undefined;
    return row ? toDatabase(row) : null;
  }

  byId(id: number): Database | null {
    const row = this.db.prepare('SELECT * FROM databases WHERE id = ?').get(id) as Row | undefined;
    return row ? toDatabase(row) : null;
  }

  listByProject(project: string): Database[] {
    return (this.db.prepare('SELECT * FROM databases WHERE project = ? ORDER BY name').all(project) as Row[]).map(toDatabase);
  }

  listAll(): Database[] {
    return (this.db.prepare('SELECT * FROM databases ORDER BY id').all() as Row[]).map(toDatabase);
  }

  /** A new definition to replace the serving one, stop-first; also how a REMOVED database comes back. */
  change(id: number, definition: DatabaseDefinition): Database {
    this.db
      .prepare("UPDATE databases SET status = 'ACTIVE', definition = ?, revision = revision + 1, step = 'pending', step_started_at = ?, reason = NULL, delete_data = 0 WHERE id = ?")
      .run(JSON.stringify(definition), this.clock.now(), id);
    return this.byId(id) as Database;
  }

  setBackupSettings(id: number, schedule: string | null, kept: number): void {
    this.db.prepare('UPDATE databases SET backup_schedule = ?, backups_kept = ?, next_backup_at = NULL WHERE id = ?').run(schedule, kept, id);
  }

  setNextBackup(id: number, at: number | null): void {
    this.db.prepare('UPDATE databases SET next_backup_at = ? WHERE id = ?').run(at, id);
  }

  setStep(id: number, step: DeploymentStep | null, reason: string | null = null): void {
    this.db.prepare('UPDATE databases SET step = ?, step_started_at = ?, reason = coalesce(?, reason) WHERE id = ?').run(step, this.clock.now(), reason, id);
  }

  /** The change became ready: its definition serves now. */
  switched(id: number): void {
    this.db
      .prepare('UPDATE databases SET serving = definition, serving_revision = revision, step = NULL, step_started_at = ?, reason = NULL, crash_count = 0 WHERE id = ?')
      .run(this.clock.now(), id);
  }

  /** The change failed: the serving definition is wanted again (or none, if none ever served). */
  rolledBack(id: number, reason: string): void {
    this.db
      .prepare('UPDATE databases SET definition = coalesce(serving, definition), revision = coalesce(serving_revision, revision), step = NULL, step_started_at = ?, reason = ? WHERE id = ?')
      .run(this.clock.now(), reason, id);
  }

  recordCrash(id: number, at: number): void {
    this.db.prepare('UPDATE databases SET crash_count = crash_count + 1, last_crash_at = ? WHERE id = ?').run(at, id);
  }

  resetCrashes(id: number): void {
    this.db.prepare('UPDATE databases SET crash_count = 0 WHERE id = ? AND crash_count <> 0').run(id);
  }

  setStatus(id: number, status: DatabaseStatus, deleteData = false): void {
    this.db.prepare('UPDATE databases SET status = ?, delete_data = ?, step = NULL WHERE id = ?').run(status, deleteData ? 1 : 0, id);
  }

  delete(id: number): void {
    this.db.prepare('DELETE FROM databases WHERE id = ?').run(id);
  }

  addEvent(databaseId: number, message: string): void {
    const info = this.db.prepare('INSERT INTO database_events (database_id, created_at, message) VALUES (?, ?, ?)').run(databaseId, this.clock.now(), message);
    if (Number(info.lastInsertRowid) % 50 === 0) {
      this.db
        .prepare('DELETE FROM database_events WHERE database_id = ? AND id <= (SELECT id FROM database_events WHERE database_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?)')
        .run(databaseId, databaseId, EVENTS_KEPT);
    }
  }

  /** Newest first. */
  events(databaseId: number, limit: number): DatabaseEvent[] {
    return (
      this.db.prepare('SELECT id, created_at, message FROM database_events WHERE database_id = ? ORDER BY id DESC LIMIT ?').all(databaseId, limit) as {
        id: number;
        created_at: number;
        message: string;
      }[]
    ).map((r) => ({ id: r.id, createdAt: r.created_at, message: r.message }));
  }
}
