import { describe, expect, it } from 'vitest';
import { admit } from '../../src/domain/admission.js';
import { parseDefinition } from '../../src/domain/definition.js';
import { afterAttempt, canMoveJob, cliExitCode, isJobFinished, JOB_STATUSES, retryDelayMs, type JobSpec } from '../../src/domain/job.js';
import { parseJobInput } from '../../src/domain/job-input.js';
import { parseProgressLine, percentOf } from '../../src/domain/progress.js';
import { nextRunAfter } from '../../src/domain/schedule.js';

const spec = (overrides: Partial<JobSpec> = {}): JobSpec => ({
  image: 'worker:1',
  containerTag: null,
  service: null,
  command: ['run'],
  environment: [],
  memoryReservationMiB: 64,
  memoryLimitMiB: 64,
  cpuLimit: 1,
  pidsLimit: 512,
  capAdd: [],
  timeoutSeconds: 60,
  retries: 2,
  ...overrides,
});

describe('the job state machine', () => {
  it('ends in exactly one terminal status, and a running job may only queue again to retry', () => {
    expect(JOB_STATUSES.filter(isJobFinished)).toEqual(['succeeded', 'failed', 'cancelled', 'timed-out']);
    expect(canMoveJob('queued', 'running')).toBe(true);
    expect(canMoveJob('running', 'queued')).toBe(true);
    expect(canMoveJob('queued', 'succeeded')).toBe(false);
    expect(canMoveJob('succeeded', 'running')).toBe(false);
    expect(canMoveJob('scheduled', 'running')).toBe(false);
  });

  it('retries a failed attempt with exponential backoff, each attempt saying so, then fails', () => {
    const job = { spec: spec({ retries: 2 }) };
    const first = afterAttempt(job, 1, { kind: 'exited', exitCode: 3, oomKilled: false }, 64, 1_000);
    expect(first).toEqual({
      status: 'queued',
      exitCode: 3,
      outcome: 'exited with code 3',
      reason: 'attempt 1 exited with code 3; retrying in 1 s (attempt 2 of 3)',
      notBefore: 2_000,
    });
    expect(afterAttempt(job, 2, { kind: 'exited', exitCode: 3, oomKilled: false }, 64, 1_000).notBefore).toBe(3_000);
    expect(afterAttempt(job, 3, { kind: 'exited', exitCode: 3, oomKilled: false }, 64, 1_000)).toMatchObject({
      status: 'failed',
      exitCode: 3,
      reason: 'exited with code 3 (after 3 attempts)',
      notBefore: null,
    });
    expect([1, 2, 3, 7, 20].map(retryDelayMs)).toEqual([1_000, 2_000, 4_000, 60_000, 60_000]);
  });

  it('says plainly how an attempt ended: success, memory, a lost task, a timeout, a cancel', () => {
    const once = { spec: spec({ retries: 0 }) };
    expect(afterAttempt(once, 1, { kind: 'exited', exitCode: 0, oomKilled: false }, 64, 0)).toMatchObject({ status: 'succeeded', exitCode: 0 });
    expect(afterAttempt(once, 1, { kind: 'exited', exitCode: 137, oomKilled: true }, 64, 0).reason).toBe('was killed for running out of memory (limit 64 MiB)');
    expect(afterAttempt(once, 1, { kind: 'vanished' }, 64, 0).reason).toBe('lost its task, which was removed before it finished');
    // Neither a timeout nor a cancel is retried.
    expect(afterAttempt({ spec: spec() }, 1, { kind: 'timed-out' }, 64, 0)).toMatchObject({ status: 'timed-out', reason: 'timed out after 60 s; its task was killed' });
    expect(afterAttempt({ spec: spec() }, 1, { kind: 'cancelled' }, 64, 0)).toMatchObject({ status: 'cancelled' });
  });

  it('gives berth run the exit code a shell would', () => {
    expect(cliExitCode({ status: 'failed', exitCode: 3 })).toBe(3);
    expect(cliExitCode({ status: 'succeeded', exitCode: 0 })).toBe(0);
    expect(cliExitCode({ status: 'timed-out', exitCode: null })).toBe(124);
    expect(cliExitCode({ status: 'cancelled', exitCode: null })).toBe(130);
    expect(cliExitCode({ status: 'failed', exitCode: null })).toBe(1);
  });
});

describe('admission', () => {
  it('starts what fits in order, and says why the others wait', () => {
    const result = admit(
      [
        { id: 1, project: 'a', reservationMiB: 512 },
        { id: 2, project: 'a', reservationMiB: 64 },
        { id: 3, project: 'b', reservationMiB: 64 },
      ],
      128,
      2048,
    );
    // a's first job waits for memory and holds back a's second, never b's.
    expect(result.start).toEqual([3]);
    expect(result.waiting.get(1)).toBe('waiting for 512 MiB; 128 MiB free of 2048');
    expect(result.waiting.get(2)).toBe('waiting behind job 1 of this project, which waits for memory');
  });

  it('starts jobs first in first out while they fit', () => {
    const queue = [3, 1, 2].map((id) => ({ id, project: 'a', reservationMiB: 100 }));
    expect(admit(queue, 250, 1000).start).toEqual([1, 2]);
    expect(admit(queue, 1000, 1000).start).toEqual([1, 2, 3]);
  });
});

describe('progress lines', () => {
  it('reads BERTH-PROGRESS done/total and a message', () => {
    expect(parseProgressLine('BERTH-PROGRESS 40/100 indexing shard 4')).toEqual({ done: 40, total: 100, message: 'indexing shard 4' });
    expect(parseProgressLine('  BERTH-PROGRESS 3 / 7')).toEqual({ done: 3, total: 7, message: null });
    expect(parseProgressLine('BERTH-PROGRESS 12/10 over')).toEqual({ done: 10, total: 10, message: 'over' });
    expect(percentOf({ done: 1, total: 3, message: null })).toBe(33);
  });

  it('takes anything else for an ordinary line', () => {
    for (const line of ['progress 4/10', 'BERTH-PROGRESS', 'BERTH-PROGRESS 4/0', 'BERTH-PROGRESS -1/10', 'xBERTH-PROGRESS 1/2', 'BERTH-PROGRESS a/b']) {
      expect(parseProgressLine(line), line).toBeNull();
    }
  });
});

describe('job input', () => {
  const service = { name: 'web', definition: parseDefinition({ 'container-tag': 'v3', 'memory-reservation': 32, 'memory-limit': 64, 'container-port': 80, environment: [{ name: 'A', value: '1' }, { name: 'B', value: '2' }] }) };

  it('runs with a service’s image and environment, the job’s variables over the service’s', () => {
    const { spec: s } = parseJobInput({ service: 'web', command: ['migrate'], environment: [{ name: 'B', value: 'job' }] }, service);
    expect(s).toMatchObject({ image: null, containerTag: 'v3', service: 'web', command: ['migrate'], memoryReservationMiB: 32, memoryLimitMiB: 64 });
    expect(s.environment).toEqual([{ name: 'A', value: '1' }, { name: 'B', value: 'job' }]);
  });

  it('defaults an image job to 256 MiB reserved and no retries', () => {
    const { spec: s, schedule } = parseJobInput({ image: 'busybox:1', command: ['true'] }, null);
    expect(s).toMatchObject({ image: 'busybox:1', memoryReservationMiB: 256, memoryLimitMiB: 256, retries: 0, timeoutSeconds: null });
    expect(schedule).toBeNull();
  });

  it.each([
    [{}, /needs 'service'.*or 'image'/],
    [{ image: 'a:1', service: 'web' }, /not both/],
    [{ image: 'a:1', timeout: 0 }, /'timeout' must be a positive number/],
    [{ image: 'a:1', timeout: -5 }, /'timeout'/],
    [{ image: 'a:1', retries: 11 }, /'retries' must be an integer from 0 to 10/],
    [{ image: 'a:1', schedule: 'every tuesday' }, /'schedule' is not a cron expression/],
    [{ image: 'a:1', 'memory-limit': 64, 'memory-reservation': 128 }, /may not be greater/],
    [{ image: 'UPPER:1' }, /'image' must be/],
    [{ image: 'a:1', command: ['a\0b'] }, /NUL/],
  ])('refuses %j with a clear reason', (input, message) => {
    expect(() => parseJobInput(input, null)).toThrow(expect.objectContaining({ code: 'BERTH_INVALID_JOB', status: 400 }));
    expect(() => parseJobInput(input, null)).toThrow(message);
  });
});

describe('schedules', () => {
  it('finds the next due time of a cron expression, in UTC', () => {
    expect(nextRunAfter('*/5 * * * *', new Date('2026-12-02T10:01:30Z')).toISOString()).toBe('2026-12-02T10:05:00.000Z');
    expect(nextRunAfter('0 3 * * 1', new Date('2026-12-02T10:00:00Z')).toISOString()).toBe('2026-12-07T03:00:00.000Z');
  });
});
