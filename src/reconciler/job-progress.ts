import type { JobProgress } from '../domain/job.js';
import type { Clock } from '../domain/model.js';
import { parseProgressLine } from '../domain/progress.js';
import type { TaskRuntime } from '../runtime/task-runtime.js';
import type { Logger } from './failure-log.js';

/** Progress is written at most this often per job: a job may print it thousands of times a second. */
export const PROGRESS_WRITE_MS = 250;
/** Lines read back when following starts, so a restarted server finds the last progress printed. */
const FOLLOW_TAIL = 1_000;

interface Follower {
  readonly jobId: number;
  readonly abort: AbortController;
  latest: JobProgress | null;
  written: JobProgress | null;
  writtenAt: number;
}

/**
 * Reads each running job's output as it is written and keeps its last `BERTH-PROGRESS` line
 * in the store, so status shows progress while the job runs, not after it ends. A line is
 * written at once unless one was written less than PROGRESS_WRITE_MS ago; then the newest is
 * written by the next pass (`flush`), or when the output ends.
 */
export class JobProgressWatcher {
  private readonly followers = new Map<string, Follower>();

  constructor(
    private readonly runtime: TaskRuntime,
    private readonly save: (jobId: number, progress: JobProgress) => void,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  /** Follows the task's output unless it is followed already. */
  follow(taskId: string, jobId: number): void {
    if (this.followers.has(taskId)) return;
    const follower: Follower = { jobId, abort: new AbortController(), latest: null, written: null, writtenAt: Number.NEGATIVE_INFINITY };
    this.followers.set(taskId, follower);
    this.runtime
      .followTaskLogs(taskId, {
        tail: FOLLOW_TAIL,
        signal: follower.abort.signal,
        onLine: (line) => {
          const progress = parseProgressLine(line.message);
          if (progress) this.noted(follower, progress);
        },
      })
      .catch((error: unknown) => this.logger.warn(`following the output of job ${jobId} failed: ${(error as Error).message}`))
      .finally(() => this.flush(follower));
  }

  /** Stops following every task but these; their last progress is written first. */
  retain(taskIds: ReadonlySet<string>): void {
    for (const [taskId, follower] of this.followers) {
      if (taskIds.has(taskId)) continue;
      this.followers.delete(taskId);
      follower.abort.abort();
      this.flush(follower);
    }
  }

  stop(): void {
    this.retain(new Set());
  }

  /** Writes the newest progress each job printed since its last write. */
  flushAll(): void {
    for (const follower of this.followers.values()) this.flush(follower);
  }

  private noted(follower: Follower, progress: JobProgress): void {
    follower.latest = progress;
    if (this.clock.now() - follower.writtenAt >= PROGRESS_WRITE_MS) this.flush(follower);
  }

  private flush(follower: Follower): void {
    const progress = follower.latest;
    if (progress === null || progress === follower.written) return;
    follower.written = progress;
    follower.writtenAt = this.clock.now();
    try {
      this.save(follower.jobId, progress);
    } catch (error) {
      this.logger.warn(`saving the progress of job ${follower.jobId} failed: ${(error as Error).message}`);
    }
  }
}
