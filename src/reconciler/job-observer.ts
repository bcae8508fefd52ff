import { isJobFinished } from '../domain/job.js';
import type { JobLogObserver, JobLogStream, LogLine } from '../domain/observed.js';
import { sleep } from '../process/wait.js';
import { isAlive, type TaskRuntime } from '../runtime/task-runtime.js';
import type { Store } from '../store/store.js';
import type { ContainerView } from './container-view.js';
import { LABEL, readLabels, type JobContainer } from './labels.js';

/** How often following looks for a new attempt's task, or for the job's end. */
const FOLLOW_LOOK_MS = 200;
/** Until the first attempt's task is found: its first line is what `berth run` waits for. */
const FIRST_LOOK_MS = 20;
/** An attempt that starts while followed is shown from its first line. */
const WHOLE = 1_000_000;

/** A job's output: its running attempt's task's log, and what ended attempts left in the store. */
export class RuntimeJobObserver implements JobLogObserver {
  constructor(
    private readonly runtime: TaskRuntime,
    private readonly view: ContainerView,
    private readonly store: Store,
  ) {}

  async logs(jobId: number, tail: number): Promise<JobLogStream[]> {
    const streams = new Map<number, JobLogStream>();
    for (const { attempt, lines } of this.store.jobs.attemptLines(jobId)) {
      streams.set(attempt.number, { attempt: attempt.number, taskName: attempt.taskName, lines: lines.slice(-tail) });
    }
    for (const task of await this.tasks(jobId)) {
      if (streams.has(task.attempt) || !isAlive(task.container)) continue;
      streams.set(task.attempt, { attempt: task.attempt, taskName: task.task, lines: await this.runtime.taskLogs(task.container.id, { tail }) });
    }
    return [...streams.values()].sort((a, b) => a.attempt - b.attempt);
  }

  async follow(jobId: number, options: { tail: number; signal: AbortSignal; onLine: (taskName: string, line: LogLine) => void }): Promise<void> {
    const sent = new Set<number>();
    const streams: Promise<void>[] = [];
    let first = true;
    while (!options.signal.aborted) {
      const finished = isJobFinished(this.store.jobs.get(jobId)?.status ?? 'failed');
      // An attempt that ended before it could be followed (a quick job) is sent as it was kept.
      const kept = this.store.jobs.attemptLines(jobId);
      for (const { attempt, lines } of kept) {
        if (sent.has(attempt.number)) continue;
        sent.add(attempt.number);
        for (const line of first ? lines.slice(-options.tail) : lines) options.onLine(attempt.taskName, line);
      }
      for (const task of await this.tasks(jobId)) {
        if (sent.has(task.attempt) || task.container.state === 'removing') continue;
        const tail = first ? options.tail : WHOLE;
        if (isAlive(task.container)) {
          sent.add(task.attempt);
          streams.push(this.runtime.followTaskLogs(task.container.id, { tail, signal: options.signal, onLine: (line) => options.onLine(task.task, line) }));
          continue;
        }
        // Ended before it was followed (a quick job), not yet reaped: its task still has its lines.
        const lines = await this.runtime.taskLogs(task.container.id, { tail });
        if (lines.length === 0) continue;
        sent.add(task.attempt);
        for (const line of lines) options.onLine(task.task, line);
      }
      first = false;
      if (finished) break;
      await sleep(sent.size === 0 ? FIRST_LOOK_MS : FOLLOW_LOOK_MS, options.signal);
    }
    await Promise.all(streams);
  }

  private async tasks(jobId: number): Promise<JobContainer[]> {
    const listed = await this.view.matching({ [LABEL.job]: String(jobId) });
    return listed.map(readLabels).filter((c): c is JobContainer => c?.kind === 'job');
  }
}
