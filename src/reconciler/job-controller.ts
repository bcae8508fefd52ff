import { admit, admitOnNodes, type NodeAdmission } from '../domain/admission.js';
import { afterAttempt, type AttemptEnd, type Job, type JobAttempt } from '../domain/job.js';
import type { Clock } from '../domain/model.js';
import { nextRunAfter } from '../domain/schedule.js';
import { isAlive } from '../runtime/task-runtime.js';
import type { Store } from '../store/store.js';
import type { PassContext, WorkloadController } from './controller.js';
import type { FailureLog } from './failure-log.js';
import type { ImagePreparation } from './image-preparation.js';
import type { ImageToRun } from './image-source.js';
import type { JobProgressWatcher } from './job-progress.js';
import { jobTaskName, type JobContainer } from './labels.js';
import type { NodeNames } from './node-names.js';
import type { TaskOps } from './task-ops.js';

export interface JobControllerDeps {
  readonly store: Store;
  readonly tasks: TaskOps;
  readonly preparation: ImagePreparation;
  readonly progress: JobProgressWatcher;
  readonly clock: Clock;
  readonly failures: FailureLog;
  /** With the nodes' names, a job tells the node each attempt runs on (a runtime of many nodes). */
  readonly nodeNames?: NodeNames;
}

export interface JobControllerOptions {
  /** Finished jobs kept per project; older ones are deleted with their logs. */
  readonly jobsKept: number;
}

const NO_TASKS: readonly JobContainer[] = [];

/**
 * Jobs: tasks that run to completion. Queues them until their memory fits (each project's
 * in order), runs an attempt, follows its progress, kills it at its timeout or on cancel,
 * records how it ended exactly once, retries with backoff, and queues the runs of scheduled
 * jobs. Everything it decides comes from the store and the tasks it is given, so a server
 * killed at any point finds a running job's task again and finishes it with its real exit.
 */
export class JobController implements WorkloadController<JobContainer> {
  readonly kind = 'job' as const;

  constructor(
    private readonly deps: JobControllerDeps,
    private readonly options: JobControllerOptions,
  ) {}

  async reconcile(tasks: ReadonlyMap<number, readonly JobContainer[]>, pass: PassContext): Promise<boolean> {
    const open = this.deps.store.jobs.open();
    const openIds = new Set(open.map((j) => j.id));
    // Tasks of jobs that ended (or were pruned), or wait to retry: their attempts are recorded.
    const runningIds = new Set(open.filter((j) => j.status === 'running').map((j) => j.id));
    for (const [jobId, owned] of tasks) {
      // A queued job's tasks are of attempts already recorded (it waits to retry).
      if (openIds.has(jobId) && runningIds.has(jobId)) continue;
      for (const task of owned) if (task.container.state !== 'removing') await this.deps.tasks.remove(task.container.id);
    }
    const followed = new Set<string>();
    const queued: Job[] = [];
    let busy = false;
    for (const job of open) {
      const key = `job ${job.id} of ${job.project}`;
      try {
        if (job.status === 'scheduled') this.schedule(job, pass);
        else if (job.status === 'running') {
          busy = true;
          const following = await this.running(job, tasks.get(job.id) ?? NO_TASKS, pass);
          if (following) followed.add(following);
        } else if (job.status === 'queued') {
          queued.push(job);
        }
        this.deps.failures.succeeded(key);
      } catch (error) {
        this.deps.failures.failed(key, (error as Error).message, (error as Error).stack ?? String(error));
      }
    }
    this.deps.progress.retain(followed);
    this.deps.progress.flushAll();
    if (queued.length > 0) busy = (await this.admitQueued(queued, pass)) || busy;
    return busy;
  }

  /** A scheduled job queues a run when one is due, unless its last run still goes. */
  private schedule(job: Job, pass: PassContext): void {
    const { store, clock } = this.deps;
    if (job.cancelRequested) {
      store.jobs.finish(job, 'cancelled', 'its schedule was cancelled');
      return;
    }
    const now = clock.now();
    const due = job.notBefore ?? now;
    if (now < due) {
      pass.wakeAt(due);
      return;
    }
    const next = nextRunAfter(job.schedule as string, new Date(now)).getTime();
    store.transaction(() => {
      const last = store.jobs.latestRun(job.id);
      if (last && last.finishedAt === null) {
        store.jobs.addEvent(job.id, `the run due at ${new Date(due).toISOString()} was not started: job ${last.id}, the run before, is still ${last.status}`);
      } else {
        const run = store.jobs.create({ project: job.project, serviceId: job.serviceId, scheduleId: job.id, spec: job.spec, schedule: null, nextRun: null });
        store.jobs.addEvent(run.id, `queued by the schedule of job ${job.id} (${job.schedule})`);
        store.jobs.addEvent(job.id, `queued run job ${run.id}`);
      }
      store.jobs.setNextRun(job.id, next);
    });
    pass.wakeAt(next);
  }

  /** Watches a running attempt; records its end. Answers the task followed for progress, if any. */
  private async running(job: Job, owned: readonly JobContainer[], pass: PassContext): Promise<string | null> {
    const { store, tasks, clock } = this.deps;
    const attempt = store.jobs.attempt(job.id, job.attempts);
    if (!attempt) throw new Error(`job ${job.id} is running attempt ${job.attempts}, which was never recorded`);
    for (const stale of owned.filter((t) => t.attempt !== attempt.number)) await tasks.remove(stale.container.id);
    const task = owned.find((t) => t.attempt === attempt.number);
    if (!task) {
      // Recorded, then the server stopped before its task was made: make it now, still this attempt.
      if (attempt.state === 'creating') await this.startAttempt(job, attempt, pass);
      else await this.end(job, attempt, { kind: 'vanished' }, null);
      return null;
    }
    if (attempt.state === 'creating') store.jobs.attemptRunning(job.id, attempt.number);
    if (task.container.state === 'removing') return null;
    if (isAlive(task.container)) {
      if (task.container.state === 'created') await tasks.start(task.container.id);
      await this.tellNode(job, attempt, task);
      const deadline = job.spec.timeoutSeconds === null ? null : attempt.startedAt + job.spec.timeoutSeconds * 1000;
      if (job.cancelRequested || (deadline !== null && clock.now() >= deadline)) {
        await tasks.stop(task);
        pass.wakeAt(clock.now() + 1_000);
      } else if (deadline !== null) {
        pass.wakeAt(deadline);
      }
      this.deps.progress.follow(task.container.id, job.id);
      return task.container.id;
    }
    const { details, lines } = await tasks.remains(task.container.id);
    const ranMs = (details?.finishedAt?.getTime() ?? clock.now()) - attempt.startedAt;
    const end: AttemptEnd = job.cancelRequested
      ? { kind: 'cancelled' }
      : job.spec.timeoutSeconds !== null && ranMs >= job.spec.timeoutSeconds * 1000
        ? { kind: 'timed-out' }
        : { kind: 'exited', exitCode: details?.exitCode ?? null, oomKilled: details?.oomKilled ?? false };
    await this.end(job, attempt, end, { exitCode: details?.exitCode ?? null, oomKilled: details?.oomKilled ?? false, lines });
    await tasks.remove(task.container.id);
    return null;
  }

  /** Once per attempt: the node its task was placed on, on a runtime that places tasks on nodes. */
  private async tellNode(job: Job, attempt: JobAttempt, task: JobContainer): Promise<void> {
    if (!this.deps.nodeNames || !task.container.node) return;
    const name = await this.deps.nodeNames.of(task.container);
    const message = `attempt ${attempt.number} runs on node ${name ?? task.container.node}`;
    const { store } = this.deps;
    if (store.jobs.events(job.id, 20).some((e) => e.message === message)) return;
    store.jobs.addEvent(job.id, message);
  }

  private async end(job: Job, attempt: JobAttempt, end: AttemptEnd, remains: Parameters<Store['jobs']['finishAttempt']>[3] | null): Promise<void> {
    const { store, clock } = this.deps;
    const after = afterAttempt(job, attempt.number, end, job.spec.memoryLimitMiB, clock.now());
    const recorded = store.jobs.finishAttempt(job, attempt.number, after, remains ?? { exitCode: null, oomKilled: false, lines: [] });
    if (recorded && after.status !== 'queued') store.jobs.prune(job.project, this.options.jobsKept);
  }

  /**
   * Starts the due queued jobs that fit, each project's in order; the others are told why
   * they wait. Answers true while any job waits on something that will change by itself.
   */
  private async admitQueued(queued: readonly Job[], pass: PassContext): Promise<boolean> {
    const { store, clock } = this.deps;
    const now = clock.now();
    const due: Job[] = [];
    for (const job of queued) {
      if (job.cancelRequested) store.jobs.finish(job, 'cancelled', 'cancelled before it started');
      else if (job.notBefore !== null && job.notBefore > now) pass.wakeAt(job.notBefore);
      else due.push(job);
    }
    const admission = await this.admission(due, pass);
    const byId = new Map(due.map((job) => [job.id, job]));
    for (const [id, reason] of admission.waiting) store.jobs.setReason(byId.get(id) as Job, reason);
    let waitingOnPulls = false;
    for (const id of admission.start) {
      const job = byId.get(id) as Job;
      pass.reserve(job.spec.memoryReservationMiB, admission.nodes.get(id));
      const image = await this.deps.preparation.prepare(`image:job:${job.id}`, job.project, job.spec.service ?? '', job.spec);
      if (image.status === 'pulling') {
        store.jobs.setReason(job, 'pulling its image');
        waitingOnPulls = true;
        continue;
      }
      if (image.status === 'failed') {
        store.jobs.finish(job, 'failed', image.reason);
        continue;
      }
      const attempt = store.jobs.beginAttempt(job, jobTaskName(job.id, job.attempts + 1));
      await this.launch(store.jobs.get(job.id) as Job, attempt, image.image);
    }
    return waitingOnPulls || due.length > admission.start.length;
  }

  /**
   * Which due jobs fit now: on one node within the memory berth may reserve there; on several,
   * each on one node with room for it (the task never spans machines).
   */
  private async admission(due: readonly Job[], pass: PassContext): Promise<Pick<NodeAdmission, 'start' | 'waiting'> & { nodes: ReadonlyMap<number, string> }> {
    const queue = due.map((job) => ({ id: job.id, project: job.project, reservationMiB: job.spec.memoryReservationMiB }));
    const rooms = await pass.rooms();
    if (rooms.length <= 1) {
      const capacity = await pass.capacityMiB();
      return { ...admit(queue, capacity - (await pass.reservedMiB()), capacity), nodes: new Map() };
    }
    const open = rooms.filter((r) => r.schedulable).map((r) => ({ name: r.name, freeMiB: r.capacityMiB - r.reservedMiB, capacityMiB: r.capacityMiB }));
    return admitOnNodes(queue, open);
  }

  /** Makes the attempt's task again after a server stopped between recording it and making it. */
  private async startAttempt(job: Job, attempt: JobAttempt, pass: PassContext): Promise<void> {
    const image = await this.deps.preparation.prepare(`image:job:${job.id}`, job.project, job.spec.service ?? '', job.spec);
    if (image.status === 'pulling') return;
    if (image.status === 'failed') {
      await this.end(job, attempt, { kind: 'unstartable', reason: image.reason }, null);
      return;
    }
    pass.reserve(job.spec.memoryReservationMiB);
    await this.launch(job, attempt, image.image);
  }

  private async launch(job: Job, attempt: JobAttempt, image: ImageToRun): Promise<void> {
    const { store } = this.deps;
    try {
      await this.deps.tasks.startJobTask(job, attempt.number, image);
    } catch (error) {
      await this.end(job, attempt, { kind: 'unstartable', reason: (error as Error).message }, null);
      return;
    }
    store.transaction(() => {
      store.jobs.attemptRunning(job.id, attempt.number);
      store.jobs.addEvent(job.id, `attempt ${attempt.number} started (task ${attempt.taskName})`);
    });
  }
}
