import { BerthError, InternalError } from '../domain/errors.js';
import {
  canMoveJob,
  isJobFinished,
  type AfterAttempt,
  type AttemptState,
  type Job,
  type JobAttempt,
  type JobEvent,
  type JobProgress,
  type JobSpec,
  type JobStatus,
} from '../domain/job.js';
import type { Clock } from '../domain/model.js';
import type { LogLine } from '../domain/observed.js';
import type { Db } from './database.js';

interface JobRow {
  id: number;
  project: string;
  service_id: number | null;
  schedule_id: number | null;
  spec: string;
  schedule: string | null;
  status: JobStatus;
  cancel_requested: number;
  attempts: number;
  exit_code: number | null;
  reason: string | null;
  progress: string | null;
  not_before: number | null;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
}

interface AttemptRow {
  job_id: number;
  number: number;
  task_name: string;
  state: AttemptState;
  started_at: number;
  finished_at: number | null;
  exit_code: number | null;
  oom_killed: number;
  outcome: string | null;
  lines: string | null;
}

function toJob(row: JobRow): Job {
  return {
    id: row.id,
    project: row.project,
    serviceId: row.service_id,
    scheduleId: row.schedule_id,
    spec: JSON.parse(row.spec) as JobSpec,
    schedule: row.schedule,
    status: row.status,
    cancelRequested: row.cancel_requested === 1,
    attempts: row.attempts,
    exitCode: row.exit_code,
    reason: row.reason,
    progress: row.progress === null ? null : (JSON.parse(row.progress) as JobProgress),
    notBefore: row.not_before,
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
  };
}

function toAttempt(row: AttemptRow): JobAttempt {
  return {
    jobId: row.job_id,
    number: row.number,
    taskName: row.task_name,
    state: row.state,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    exitCode: row.exit_code,
    oomKilled: row.oom_killed === 1,
    outcome: row.outcome,
  };
}

/** Thrown when a job's stored status is not the one the caller read (another writer moved it). */
export class StaleJobError extends BerthError {
  readonly code = 'BERTH_STALE_JOB';
  readonly status = 409;
  constructor(id: number, expected: JobStatus) {
    super(`Job ${id} is no longer ${expected}`);
  }
}

/** Events kept per job: a job retried often must not grow the store without bound. */
const EVENTS_KEPT = 200;

/**
 * Jobs, their attempts and events. Every status change checks the job's state machine and
 * that nobody moved the job meanwhile, as deployments do.
 */
export class JobRepository {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
  ) {}

  /** How many jobs are in each state. */
  countsByStatus(): { status: string; count: number }[] {
    return this.db.prepare('SELECT status, COUNT(*) AS count FROM jobs GROUP BY status').all() as { status: string; count: number }[];
  }

  create(input: { project: string; serviceId: number | null; scheduleId: number | null; spec: JobSpec; schedule: string | null; nextRun: number | null }): Job {
    const status: JobStatus = input.schedule === null ? 'queued' : 'scheduled';
    const info = this.db
      .prepare(
        'INSERT INTO jobs (project, service_id, schedule_id, spec, schedule, status, not_before, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      )
      .run(input.project, input.serviceId, input.scheduleId, JSON.stringify(input.spec), input.schedule, status, input.nextRun, this.clock.now());
    return this.get(Number(info.lastInsertRowid)) as Job;
  }

  get(id: number): Job | null {
    const row = this.db.prepare('SELECT * FROM jobs WHERE id = ?').get(id) as JobRow | undefined;
    return row ? toJob(row) : null;
  }

  /** A job of the project; another project's is as good as missing. */
  find(project: string, id: number): Job | null {
    const row = this.db.prepare('SELECT * FROM jobs WHERE id = ? AND project = ?').get(id, project) as JobRow | undefined;
    return row ? toJob(row) : null;
  }

  /** Newest first. */
  listByProject(project: string, limit: number): Job[] {
    return (this.db.prepare('SELECT * FROM jobs WHERE project = ? ORDER BY id DESC LIMIT ?').all(project, limit) as JobRow[]).map(toJob);
  }

  /** Every unfinished job (scheduled, queued, running), oldest first: what a pass looks at. */
  open(): Job[] {
    return (this.db.prepare('SELECT * FROM jobs WHERE finished_at IS NULL ORDER BY id').all() as JobRow[]).map(toJob);
  }

  /** The newest run a scheduled job queued. */
  latestRun(scheduleId: number): Job | null {
    const row = this.db.prepare('SELECT * FROM jobs WHERE schedule_id = ? ORDER BY id DESC LIMIT 1').get(scheduleId) as JobRow | undefined;
    return row ? toJob(row) : null;
  }

  attempts(jobId: number): JobAttempt[] {
    return (this.db.prepare('SELECT * FROM job_attempts WHERE job_id = ? ORDER BY number').all(jobId) as AttemptRow[]).map(toAttempt);
  }

  attempt(jobId: number, number: number): JobAttempt | null {
    const row = this.db.prepare('SELECT * FROM job_attempts WHERE job_id = ? AND number = ?').get(jobId, number) as AttemptRow | undefined;
    return row ? toAttempt(row) : null;
  }

  /** The last lines each finished attempt left, oldest attempt first. */
  attemptLines(jobId: number): { attempt: JobAttempt; lines: LogLine[] }[] {
    const rows = this.db.prepare('SELECT * FROM job_attempts WHERE job_id = ? AND lines IS NOT NULL ORDER BY number').all(jobId) as AttemptRow[];
    return rows.map((row) => ({
      attempt: toAttempt(row),
      lines: (JSON.parse(row.lines as string) as { time: number; message: string }[]).map((l) => ({ time: new Date(l.time), message: l.message })),
    }));
  }

  /** Why a queued job waits; written only when the words change. */
  setReason(job: Job, reason: string): void {
    if (job.reason === reason) return;
    this.db.prepare('UPDATE jobs SET reason = ? WHERE id = ? AND reason IS NOT ?').run(reason, job.id, reason);
  }

  requestCancel(id: number): void {
    this.db.prepare('UPDATE jobs SET cancel_requested = 1 WHERE id = ? AND finished_at IS NULL').run(id);
  }

  setProgress(id: number, progress: JobProgress): void {
    this.db.prepare('UPDATE jobs SET progress = ? WHERE id = ?').run(JSON.stringify(progress), id);
  }

  /** A scheduled job's next due time. */
  setNextRun(id: number, at: number): void {
    this.db.prepare("UPDATE jobs SET not_before = ? WHERE id = ? AND status = 'scheduled'").run(at, id);
  }

  /**
   * Records attempt `attempts + 1` as about to start, before its task is made: a server killed
   * between the two finds the attempt and makes its task then, without counting a retry.
   */
  beginAttempt(job: Job, taskName: string): JobAttempt {
    const now = this.clock.now();
    const number = job.attempts + 1;
    this.move(job, 'running', 'UPDATE jobs SET status = ?, attempts = ?, reason = NULL, not_before = NULL, started_at = COALESCE(started_at, ?) WHERE id = ? AND status = ?', [
      'running',
      number,
      now,
      job.id,
      job.status,
    ]);
    this.db
      .prepare("INSERT INTO job_attempts (job_id, number, task_name, state, started_at) VALUES (?, ?, ?, 'creating', ?)")
      .run(job.id, number, taskName, now);
    return this.attempt(job.id, number) as JobAttempt;
  }

  /** The attempt's task exists. */
  attemptRunning(jobId: number, number: number): void {
    this.db.prepare("UPDATE job_attempts SET state = 'running' WHERE job_id = ? AND number = ? AND state = 'creating'").run(jobId, number);
  }

  /**
   * Ends an attempt and moves the job as `after` says, in one transaction with its lines and
   * event. Returns false when the attempt had ended already: nothing is recorded twice.
   */
  finishAttempt(job: Job, number: number, after: AfterAttempt, details: { exitCode: number | null; oomKilled: boolean; lines: readonly LogLine[] }): boolean {
    return this.db.transaction(() => {
      const now = this.clock.now();
      const lines = JSON.stringify(details.lines.map((l) => ({ time: l.time.getTime(), message: l.message })));
      const ended = this.db
        .prepare(
          "UPDATE job_attempts SET state = 'finished', finished_at = ?, exit_code = ?, oom_killed = ?, outcome = ?, lines = ? WHERE job_id = ? AND number = ? AND state != 'finished'",
        )
        .run(now, details.exitCode, details.oomKilled ? 1 : 0, after.outcome, lines, job.id, number);
      if (ended.changes !== 1) return false;
      this.move(job, after.status, 'UPDATE jobs SET status = ?, exit_code = ?, reason = ?, not_before = ?, finished_at = ? WHERE id = ? AND status = ?', [
        after.status,
        after.exitCode,
        after.reason,
        after.notBefore,
        isJobFinished(after.status) ? now : null,
        job.id,
        job.status,
      ]);
      this.addEvent(job.id, `attempt ${number} ${after.outcome}${after.status === 'queued' ? `; ${after.reason.split('; ').slice(1).join('; ')}` : ''}`);
      if (isJobFinished(after.status)) this.addEvent(job.id, finishedWords(after.status, after.reason));
      return true;
    })();
  }

  /** Ends a job that has no attempt running (queued, or scheduled), with its event. */
  finish(job: Job, status: JobStatus, reason: string): void {
    this.db.transaction(() => {
      this.move(job, status, 'UPDATE jobs SET status = ?, reason = ?, finished_at = ? WHERE id = ? AND status = ?', [status, reason, this.clock.now(), job.id, job.status]);
      this.addEvent(job.id, finishedWords(status, reason));
    })();
  }

  addEvent(jobId: number, message: string): void {
    const info = this.db.prepare('INSERT INTO job_events (job_id, created_at, message) VALUES (?, ?, ?)').run(jobId, this.clock.now(), message);
    if (Number(info.lastInsertRowid) % 50 === 0) {
      this.db
        .prepare('DELETE FROM job_events WHERE job_id = ? AND id <= (SELECT id FROM job_events WHERE job_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?)')
        .run(jobId, jobId, EVENTS_KEPT);
    }
  }

  /** Newest first. */
  events(jobId: number, limit: number): JobEvent[] {
    const rows = this.db.prepare('SELECT id, created_at, message FROM job_events WHERE job_id = ? ORDER BY id DESC LIMIT ?').all(jobId, limit) as {
      id: number;
      created_at: number;
      message: string;
    }[];
    return rows.map((r) => ({ id: r.id, createdAt: r.created_at, message: r.message }));
  }

  /** Deletes the project's finished jobs beyond the newest `keep`, with their attempts and events. */
  prune(project: string, keep: number): number {
    return this.db
      .prepare(
        'DELETE FROM jobs WHERE project = ? AND finished_at IS NOT NULL AND id NOT IN (SELECT id FROM jobs WHERE project = ? AND finished_at IS NOT NULL ORDER BY id DESC LIMIT ?)',
      )
      .run(project, project, keep).changes;
  }

  private move(job: Job, to: JobStatus, sql: string, params: readonly (string | number | null)[]): void {
    if (!canMoveJob(job.status, to)) throw new InternalError(`A job cannot go from '${job.status}' to '${to}'`);
    if (this.db.prepare(sql).run(...params).changes !== 1) throw new StaleJobError(job.id, job.status);
  }
}

function finishedWords(status: JobStatus, reason: string): string {
  switch (status) {
    case 'succeeded':
      return 'job succeeded';
    case 'cancelled':
      return 'job cancelled';
    case 'timed-out':
      return `job ${reason}`;
    default:
      return `job failed: ${reason}`;
  }
}
