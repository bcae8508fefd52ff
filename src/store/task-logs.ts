import type { LogLine } from '../domain/observed.js';
import type { Db } from './database.js';

export interface StoppedTaskLog {
  readonly taskName: string;
  readonly revision: number;
  readonly createdAt: number;
  readonly stoppedAt: number;
  readonly exitCode: number | null;
  readonly lines: readonly LogLine[];
}

/** Stopped tasks kept per service, newest first; enough to diagnose a crash loop. */
const KEPT_PER_SERVICE = 20;

/** The last log lines of tasks whose containers berth removed. */
export class TaskLogRepository {
  constructor(private readonly db: Db) {}

  save(serviceId: number, log: StoppedTaskLog): void {
    const lines = log.lines.map((l) => [l.time.getTime(), l.message]);
    this.db.transaction(() => {
      this.db
        .prepare(
          'INSERT OR REPLACE INTO task_logs (service_id, task_name, revision, created_at, stopped_at, exit_code, lines) VALUES (?, ?, ?, ?, ?, ?, ?)',
        )
        .run(serviceId, log.taskName, log.revision, log.createdAt, log.stoppedAt, log.exitCode, JSON.stringify(lines));
      this.db
        .prepare(
          'DELETE FROM task_logs WHERE service_id = ? AND task_name NOT IN (SELECT task_name FROM task_logs WHERE service_id = ? ORDER BY stopped_at DESC LIMIT ?)',
        )
        .run(serviceId, serviceId, KEPT_PER_SERVICE);
    })();
  }

  has(serviceId: number, taskName: string): boolean {
    return this.db.prepare('SELECT 1 FROM task_logs WHERE service_id = ? AND task_name = ?').get(serviceId, taskName) !== undefined;
  }

  /** Newest stopped task first. */
  list(serviceId: number, limit: number): StoppedTaskLog[] {
    const rows = this.db
      .prepare('SELECT * FROM task_logs WHERE service_id = ? ORDER BY created_at DESC LIMIT ?')
      .all(serviceId, limit) as {
      task_name: string;
      revision: number;
      created_at: number;
      stopped_at: number;
      exit_code: number | null;
      lines: string;
    }[];
    return rows.map((r) => ({
      taskName: r.task_name,
      revision: r.revision,
      createdAt: r.created_at,
      stoppedAt: r.stopped_at,
      exitCode: r.exit_code,
      lines: (JSON.parse(r.lines) as [number, string][]).map(([t, m]) => ({ time: new Date(t), message: m })),
    }));
  }
}
