import type { StackSettings } from './compose/stack-settings.js';

/**
 * Jobs: work that runs to completion (a pipeline run, a long computation), as opposed to a
 * service that must run forever. A job is queued until its memory fits, runs attempts until
 * one exits 0 or its retries are spent, and ends in one terminal status. A job with a
 * schedule only makes runs: each due time it queues a new job, its run.
 */
export const JOB_STATUSES = ['scheduled', 'queued', 'running', 'succeeded', 'failed', 'cancelled', 'timed-out'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

/** What a job runs: an image and command, with a service's environment when it was started from one. */
export interface JobSpec {
  /** `image` when given; otherwise `containerTag` in `service`'s repository. */
  readonly image: string | null;
  readonly containerTag: string | null;
  /** The service the image and environment were taken from, when there was one. */
  readonly service: string | null;
  readonly command: readonly string[] | null;
  readonly environment: readonly { readonly name: string; readonly value: string }[];
  readonly memoryReservationMiB: number;
  readonly memoryLimitMiB: number;
  readonly cpuLimit: number;
  readonly pidsLimit: number;
  readonly capAdd: readonly string[];
  /** An attempt running longer is killed and the job ends `timed-out`; null: no bound. */
  readonly timeoutSeconds: number | null;
  /** Attempts after the first when one fails. */
  readonly retries: number;
  /** Run from a stack service: its networks, volumes and the rest of its compose settings. */
  readonly stack?: StackSettings | null;
}

export interface JobProgress {
  readonly done: number;
  readonly total: number;
  readonly message: string | null;
}

export interface Job {
  readonly id: number;
  readonly project: string;
  readonly serviceId: number | null;
  /** The scheduled job that queued this run. */
  readonly scheduleId: number | null;
  readonly spec: JobSpec;
  readonly schedule: string | null;
  readonly status: JobStatus;
  readonly cancelRequested: boolean;
  /** Attempts started so far. */
  readonly attempts: number;
  readonly exitCode: number | null;
  /** Why it waits, or why it ended. */
  readonly reason: string | null;
  readonly progress: JobProgress | null;
  /** A queued job does not start before this (its retry backoff); a scheduled one's next run. */
  readonly notBefore: number | null;
  readonly createdAt: number;
  readonly startedAt: number | null;
  readonly finishedAt: number | null;
}

/** creating: recorded, its task not made yet; running: its task exists; finished. */
export type AttemptState = 'creating' | 'running' | 'finished';

export interface JobAttempt {
  readonly jobId: number;
  readonly number: number;
  readonly taskName: string;
  readonly state: AttemptState;
  readonly startedAt: number;
  readonly finishedAt: number | null;
  readonly exitCode: number | null;
  readonly oomKilled: boolean;
  /** Plain words: how it ended. */
  readonly outcome: string | null;
}

export interface JobEvent {
  readonly id: number;
  readonly createdAt: number;
  readonly message: string;
}

/** Which status may follow which: the job's state machine as data. */
export const JOB_TRANSITIONS: Readonly<Record<JobStatus, readonly JobStatus[]>> = {
  scheduled: ['cancelled'],
  queued: ['running', 'cancelled'],
  // queued again: a failed attempt with retries left waits out its backoff.
  running: ['succeeded', 'failed', 'timed-out', 'cancelled', 'queued'],
  succeeded: [],
  failed: [],
  cancelled: [],
  'timed-out': [],
};

export function isJobFinished(status: JobStatus): boolean {
  return JOB_TRANSITIONS[status].length === 0;
}

export function canMoveJob(from: JobStatus, to: JobStatus): boolean {
  return JOB_TRANSITIONS[from].includes(to);
}

/** How an attempt ended, as the reconciler saw it. */
export type AttemptEnd =
  | { readonly kind: 'exited'; readonly exitCode: number | null; readonly oomKilled: boolean }
  | { readonly kind: 'timed-out' }
  | { readonly kind: 'cancelled' }
  /** Its task disappeared (removed behind berth's back) before it could be looked at. */
  | { readonly kind: 'vanished' }
  /** Its task could not be made or started (the runtime refused it). */
  | { readonly kind: 'unstartable'; readonly reason: string };

export interface AfterAttempt {
  readonly status: JobStatus;
  readonly exitCode: number | null;
  /** For the job: why it ended, or why it waits. */
  readonly reason: string;
  /** For the attempt. */
  readonly outcome: string;
  /** When the next attempt may start (a retry). */
  readonly notBefore: number | null;
}

const RETRY_BASE_MS = 1_000;
const RETRY_CAP_MS = 60_000;

/** The wait before retry n (1 for the first retry): 1 s, 2 s, 4 s … at most a minute. */
export function retryDelayMs(retry: number): number {
  return Math.min(RETRY_CAP_MS, RETRY_BASE_MS * 2 ** (retry - 1));
}

/** What a job becomes when attempt `attempt` ends so. Pure: the reconciler records it. */
export function afterAttempt(job: Pick<Job, 'spec'>, attempt: number, end: AttemptEnd, limitMiB: number, now: number): AfterAttempt {
  if (end.kind === 'cancelled') return final('cancelled', null, 'cancelled by request', 'cancelled');
  if (end.kind === 'timed-out') {
    const words = `timed out after ${job.spec.timeoutSeconds} s; its task was killed`;
    return final('timed-out', null, words, 'timed out');
  }
  if (end.kind === 'exited' && end.exitCode === 0 && !end.oomKilled) return final('succeeded', 0, 'exited with code 0', 'exited with code 0');
  const outcome = describeEnd(end, limitMiB);
  const exitCode = end.kind === 'exited' ? end.exitCode : null;
  if (attempt <= job.spec.retries) {
    const delay = retryDelayMs(attempt);
    return {
      status: 'queued',
      exitCode,
      reason: `attempt ${attempt} ${outcome}; retrying in ${formatDelay(delay)} (attempt ${attempt + 1} of ${job.spec.retries + 1})`,
      outcome,
      notBefore: now + delay,
    };
  }
  const tries = job.spec.retries > 0 ? ` (after ${attempt} attempts)` : '';
  return final('failed', exitCode, `${outcome}${tries}`, outcome);
}

function final(status: JobStatus, exitCode: number | null, reason: string, outcome: string): AfterAttempt {
  return { status, exitCode, reason, outcome, notBefore: null };
}

function describeEnd(end: AttemptEnd, limitMiB: number): string {
  if (end.kind === 'vanished') return 'lost its task, which was removed before it finished';
  if (end.kind === 'unstartable') return `could not start: ${end.reason}`;
  if (end.kind !== 'exited') return end.kind;
  if (end.oomKilled) return `was killed for running out of memory (limit ${limitMiB} MiB)`;
  return `exited with code ${end.exitCode ?? 'unknown'}`;
}

function formatDelay(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
}

/** The exit code `berth run` ends with: the task's own, or the one a shell would give. */
export function cliExitCode(job: Pick<Job, 'status' | 'exitCode'>): number {
  if (job.exitCode !== null) return job.exitCode;
  switch (job.status) {
    case 'succeeded':
      return 0;
    case 'timed-out':
      return 124;
    case 'cancelled':
      return 130;
    default:
      return 1;
  }
}
