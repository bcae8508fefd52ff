import type { Job, JobAttempt, JobEvent } from '../domain/job.js';
import type { JobLogStream } from '../domain/observed.js';
import { percentOf } from '../domain/progress.js';
import { iso } from './documents.js';
import type { JobDocT, JobSummaryDocT } from './job-schemas.js';
import type { LogsDocT } from './schemas.js';

/** What a job runs, in one word for tables: its image, or its tag in its service's repository. */
function imageOf(job: Job): string {
  return job.spec.image ?? `${job.spec.service}:${job.spec.containerTag ?? 'latest'}`;
}

export function jobSummaryDoc(job: Job): JobSummaryDocT {
  return {
    id: job.id,
    status: job.status,
    service: job.spec.service,
    image: imageOf(job),
    command: job.spec.command === null ? null : [...job.spec.command],
    attempts: job.attempts,
    exit_code: job.exitCode,
    reason: job.reason,
    progress: job.progress === null ? null : { ...job.progress, percent: percentOf(job.progress) },
    schedule: job.schedule,
    next_run: job.status === 'scheduled' && job.notBefore !== null ? iso(job.notBefore) : null,
    schedule_id: job.scheduleId,
    created_at: iso(job.createdAt),
    started_at: job.startedAt === null ? null : iso(job.startedAt),
    finished_at: job.finishedAt === null ? null : iso(job.finishedAt),
  };
}

export function jobDoc(job: Job, attempts: readonly JobAttempt[], events: readonly JobEvent[]): JobDocT {
  return {
    ...jobSummaryDoc(job),
    memory_reservation: job.spec.memoryReservationMiB,
    memory_limit: job.spec.memoryLimitMiB,
    timeout: job.spec.timeoutSeconds,
    retries: job.spec.retries,
    attempt_list: attempts.map((a) => ({
      number: a.number,
      task_name: a.taskName,
      started_at: iso(a.startedAt),
      finished_at: a.finishedAt === null ? null : iso(a.finishedAt),
      exit_code: a.exitCode,
      oom_killed: a.oomKilled,
      outcome: a.outcome,
    })),
    events: events.map((e) => ({ created_at: iso(e.createdAt), message: e.message })),
  };
}

/** A job's output in the servicectl logs document's shape: a stream per attempt, newest first. */
export function jobLogsDoc(streams: readonly JobLogStream[]): LogsDocT {
  return {
    logs: [...streams].reverse().map((s) => ({
      stream_name: s.taskName,
      log_events: s.lines.map((l) => ({ time: l.time.toISOString(), message: l.message })),
    })),
  };
}
