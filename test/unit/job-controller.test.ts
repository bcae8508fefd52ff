import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { JobInput } from '../../src/domain/job-input.js';
import { parseJobInput } from '../../src/domain/job-input.js';
import type { Job } from '../../src/domain/job.js';
import { nextRunAfter } from '../../src/domain/schedule.js';
import type { TaskSpec } from '../../src/runtime/task-runtime.js';
import { ReconcilerHarness } from '../support/reconciler-harness.js';

let h: ReconcilerHarness;
/** Attempts started per job, so a script can fail the first ones. */
let starts: Map<string, number>;

/**
 * Job tasks run a little language in their command: `print LINE…`, then `exit CODE` (`oom`
 * for an OOM kill), `fail-first N CODE` (exit CODE on the first N attempts, else 0), or
 * nothing (it runs until stopped).
 */
function script(spec: TaskSpec) {
  const command = spec.command ?? [];
  const job = spec.labels['io.berth.job'] ?? '';
  const attempt = (starts.get(job) ?? 0) + 1;
  starts.set(job, attempt);
  const lines: string[] = [];
  for (let i = 0; i < command.length; i++) {
    const word = command[i];
    if (word === 'print') lines.push(command[++i] as string);
    if (word === 'exit') return { lines, exitCode: Number(command[++i]) };
    if (word === 'oom') return { lines, exitCode: 137, oom: true };
    if (word === 'fail-first') {
      const times = Number(command[++i]);
      const code = Number(command[++i]);
      return { lines, exitCode: attempt <= times ? code : 0 };
    }
  }
  return { lines };
}

beforeEach(() => {
  h = new ReconcilerHarness();
  starts = new Map();
  h.runtime.script = script;
  h.runtime.images.add('worker:1');
});

afterEach(async () => {
  await h.close();
});

function queue(input: JobInput & { project?: string }): Job {
  const { spec, schedule } = parseJobInput({ image: 'worker:1', ...input }, null);
  const nextRun = schedule === null ? null : nextRunAfter(schedule, new Date(h.clock.now())).getTime();
  return h.store.jobs.create({ project: input.project ?? 'exp', serviceId: null, scheduleId: null, spec, schedule, nextRun });
}

const job = (id: number) => h.store.jobs.get(id) as Job;
const events = (id: number) => h.store.jobs.events(id, 100).map((e) => e.message).reverse();
const finished = (id: number) => h.until(`job ${id} to finish`, () => (job(id).finishedAt !== null ? job(id) : null));
const jobTasks = (id: number) => [...h.runtime.containers.values()].filter((c) => c.spec.labels['io.berth.job'] === String(id));

describe('jobs, one pass at a time', () => {
  it('runs a job to completion, keeps its exit code and last lines, removes its task, and never routes it', async () => {
    const j = queue({ command: ['print', 'hello', 'exit', '0'] });
    const done = await finished(j.id);
    expect(done).toMatchObject({ status: 'succeeded', exitCode: 0, attempts: 1 });
    expect(h.store.jobs.attempts(j.id)).toEqual([expect.objectContaining({ number: 1, taskName: `job-${j.id}-1`, state: 'finished', exitCode: 0 })]);
    expect(h.store.jobs.attemptLines(j.id)[0]?.lines.map((l) => l.message)).toEqual([`started berth-unit0001-exp-job-${j.id}-1`, 'hello', 'exiting with 0']);
    expect(jobTasks(j.id)).toEqual([]);
    expect(h.gateway.tables.flat()).toEqual([]);
    expect(events(j.id)).toEqual([`attempt 1 started (task job-${j.id}-1)`, 'attempt 1 exited with code 0', 'job succeeded']);
  });

  it('labels its task as a job’s, on the project’s network, with the job’s limits', async () => {
    const j = queue({ 'memory-limit': 48, 'memory-reservation': 24, 'pids-limit': 64 });
    await h.until('running', () => jobTasks(j.id).length === 1);
    const [task] = jobTasks(j.id);
    expect(task?.spec.labels).toMatchObject({ 'io.berth.kind': 'job', 'io.berth.job': String(j.id), 'io.berth.attempt': '1', 'io.berth.memory-reservation': '24' });
    expect(task?.spec).toMatchObject({ networks: [{ name: 'berth-unit0001-exp', aliases: [] }], memoryLimitBytes: 48 * 1024 * 1024, pidsLimit: 64 });
    expect(job(j.id).status).toBe('running');
  });

  it('retries a failed job with backoff, each attempt visible, until one succeeds', async () => {
    const j = queue({ command: ['fail-first', '2', '3'], retries: 3 });
    await h.until('attempt 1 ended', () => job(j.id).status === 'queued' && job(j.id).attempts === 1);
    expect(job(j.id).reason).toBe('attempt 1 exited with code 3; retrying in 1 s (attempt 2 of 4)');
    const retriedAt = job(j.id).notBefore as number;
    await h.until('attempt 2 ended', () => job(j.id).attempts === 2 && job(j.id).status === 'queued', { stepMs: 100 });
    expect(h.store.jobs.attempts(j.id)[1]?.startedAt).toBeGreaterThanOrEqual(retriedAt);
    expect(job(j.id).notBefore).toBe((h.store.jobs.attempts(j.id)[1]?.finishedAt as number) + 2_000);
    const done = await finished(j.id);
    expect(done).toMatchObject({ status: 'succeeded', exitCode: 0, attempts: 3 });
    expect(h.store.jobs.attempts(j.id).map((a) => a.outcome)).toEqual(['exited with code 3', 'exited with code 3', 'exited with code 0']);
  });

  it('fails a job whose retries are spent, and reports an OOM kill as such', async () => {
    const j = queue({ command: ['oom'], 'memory-limit': 32, retries: 1 });
    const done = await h.until('failed', () => (job(j.id).status === 'failed' ? job(j.id) : null), { stepMs: 200 });
    expect(done.reason).toBe('was killed for running out of memory (limit 32 MiB) (after 2 attempts)');
    expect(done.exitCode).toBe(137);
  });

  it('kills an attempt that runs past its timeout and ends the job timed-out', async () => {
    const j = queue({ timeout: 5 });
    await h.until('running', () => jobTasks(j.id)[0]?.state === 'running');
    h.clock.advance(4_000);
    await h.pass();
    expect(job(j.id).status).toBe('running');
    h.clock.advance(1_000);
    const done = await finished(j.id);
    expect(done).toMatchObject({ status: 'timed-out', reason: 'timed out after 5 s; its task was killed', exitCode: null });
    expect(jobTasks(j.id)).toEqual([]);
  });

  it('cancels a queued job at once and a running one by stopping its task', async () => {
    h.runtime.capacityBytes = 100 * 1024 * 1024;
    const running = queue({ 'memory-reservation': 80, 'memory-limit': 80 });
    const waiting = queue({ 'memory-reservation': 80, 'memory-limit': 80 });
    await h.until('one running', () => job(running.id).status === 'running');
    h.store.jobs.requestCancel(waiting.id);
    h.store.jobs.requestCancel(running.id);
    expect((await finished(waiting.id)).status).toBe('cancelled');
    const done = await finished(running.id);
    expect(done.status).toBe('cancelled');
    expect(h.store.jobs.attempts(running.id)[0]?.outcome).toBe('cancelled');
    expect(jobTasks(running.id)).toEqual([]);
  });

  it('queues a job that does not fit, saying why, and starts it when memory frees', async () => {
    h.runtime.capacityBytes = 512 * 1024 * 1024;
    const big = queue({ 'memory-reservation': 400, 'memory-limit': 400 });
    await h.until('big running', () => job(big.id).status === 'running');
    const next = queue({ 'memory-reservation': 200, 'memory-limit': 200, command: ['exit', '0'] });
    await h.pass();
    expect(job(next.id)).toMatchObject({ status: 'queued', reason: 'waiting for 200 MiB; 112 MiB free of 512' });
    h.runtime.exit(jobTasks(big.id)[0]?.id as string, 0);
    expect((await finished(next.id)).status).toBe('succeeded');
  });

  it('keeps the last progress line a running job printed, while it runs', async () => {
    const j = queue({ command: ['print', 'BERTH-PROGRESS 40/100 indexing shard 4'] });
    await h.until('progress', () => job(j.id).progress);
    expect(job(j.id).progress).toEqual({ done: 40, total: 100, message: 'indexing shard 4' });
    expect(job(j.id).status).toBe('running');
    h.runtime.say(jobTasks(j.id)[0]?.id as string, 'BERTH-PROGRESS 41/100');
    await h.until('more progress', () => job(j.id).progress?.done === 41);
  });

  it('queues each run of a schedule, and never starts a run while the one before still goes', async () => {
    const schedule = queue({ schedule: '* * * * *' });
    expect(job(schedule.id).status).toBe('scheduled');
    await h.until('a first run', () => h.store.jobs.latestRun(schedule.id)?.status === 'running', { stepMs: 1_000 });
    const first = h.store.jobs.latestRun(schedule.id) as Job;
    await h.until('the next due time passes', () => (job(schedule.id).notBefore as number) > first.createdAt + 60_000, { stepMs: 1_000 });
    expect(h.store.jobs.latestRun(schedule.id)?.id).toBe(first.id);
    expect(events(schedule.id).some((e) => e.includes(`was not started: job ${first.id}, the run before, is still running`))).toBe(true);
    h.store.jobs.requestCancel(schedule.id);
    await h.until('the schedule ended', () => job(schedule.id).status === 'cancelled');
  });

  it('finds a running job again after a restart and records its end exactly once, with its real exit code', async () => {
    const j = queue({});
    await h.until('running', () => jobTasks(j.id)[0]?.state === 'running');
    await h.reconciler.stop();
    h.runtime.exit(jobTasks(j.id)[0]?.id as string, 5);
    h.restart();
    const done = await finished(j.id);
    expect(done).toMatchObject({ status: 'failed', exitCode: 5, attempts: 1 });
    for (let i = 0; i < 3; i++) await h.pass();
    expect(events(j.id).filter((e) => e.startsWith('attempt 1 exited'))).toHaveLength(1);
  });

  it('retries a job whose task vanished while the server was away', async () => {
    const j = queue({ retries: 1 });
    await h.until('running', () => jobTasks(j.id)[0]?.state === 'running');
    await h.reconciler.stop();
    await h.runtime.removeTask(jobTasks(j.id)[0]?.id as string);
    h.restart();
    await h.until('attempt 2 running', () => job(j.id).attempts === 2 && jobTasks(j.id)[0]?.state === 'running', { stepMs: 200 });
    expect(h.store.jobs.attempts(j.id)[0]?.outcome).toBe('lost its task, which was removed before it finished');
    h.runtime.exit(jobTasks(j.id)[0]?.id as string, 0);
    expect(await finished(j.id)).toMatchObject({ status: 'succeeded', attempts: 2 });
  });

  it('keeps only the newest finished jobs of a project', async () => {
    const ids = [1, 2, 3, 4, 5].map(() => queue({ command: ['exit', '0'] }).id);
    for (const id of ids) await h.until(`job ${id}`, () => h.store.jobs.get(id)?.finishedAt !== null || h.store.jobs.get(id) === null);
    await h.pass();
    expect(h.store.jobs.listByProject('exp', 10).map((j) => j.id)).toEqual(ids.slice(2).reverse());
  });
});
