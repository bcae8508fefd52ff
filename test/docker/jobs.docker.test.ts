import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { berthCli, type CliResult as Result } from '../support/cli-process.js';
import {
  ApiClient,
  DEMO_IMAGE,
  definition,
  docker,
  instanceContainers,
  startTestServer,
  waitFor,
  waitForDeployment,
  type TestServer,
} from '../support/docker-harness.js';
import { ServerProcess } from '../support/server-process.js';

// Ports 18500-18519 belong to this file.
let t: TestServer;
let api: ApiClient;
let token: string;


/** `berth ARGS…` as a user runs it, against the test server. */
function berth(args: readonly string[], onStdout?: (text: string) => void): Promise<Result> {
  return berthCli('http://127.0.0.1:18500', token, args, { timeoutMs: 110_000, ...(onStdout ? { onStdout } : {}) });
}

async function job(id: number): Promise<any> {
  const res = await api.call('GET', `/jobs/${id}`);
  expect(res.status).toBe(200);
  return res.json;
}

const finished = (id: number, timeoutMs = 60_000) => waitFor(`job ${id} to finish`, async () => ((await job(id)).finished_at ? job(id) : null), timeoutMs);
const image = (command: string) => ['run', '--image', DEMO_IMAGE, '--memory-limit', '32', '--', 'sh', '-c', command];

beforeAll(async () => {
  t = await startTestServer({ basePort: 18500, memoryCapacity: '300' });
  api = await t.api.project('it-jobs');
  token = api.token;
});

afterAll(async () => {
  await t?.destroy();
});

describe('berth run', () => {
  it('streams the output live and exits with the task’s exit code', async () => {
    let firstSeenAt = 0;
    const started = Date.now();
    const result = await berth(image('echo one; sleep 1; echo two; exit 3'), (out) => {
      if (firstSeenAt === 0 && out.includes('one')) firstSeenAt = Date.now();
    });
    expect(result.stdout).toBe('one\ntwo\n');
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(/BERTH_JOB_FAILED: job \d+ failed: exited with code 3/);
    // "one" was shown while the job still ran, not after it ended.
    expect(Date.now() - firstSeenAt).toBeGreaterThan(900);
    expect(firstSeenAt - started).toBeLessThan(Date.now() - started - 900);
    const id = Number(/job (\d+)/.exec(result.stderr)?.[1]);
    expect(await job(id)).toMatchObject({ status: 'failed', exit_code: 3, attempts: 1 });
    // Its task is gone; its last lines are kept.
    expect(instanceContainers(t.server.instance, `label=io.berth.job=${id}`)).toEqual([]);
    expect((await api.call('GET', `/jobs/${id}/logs`)).json.logs[0].log_events.map((e: any) => e.message)).toEqual(['one', 'two']);
  });

  it('runs with a service’s current image and environment, never touching its serving task', async () => {
    expect((await api.call('POST', '/services', { name: 'web' })).status).toBe(201);
    const res = await api.call('PUT', '/services/web', definition({ environment: [{ name: 'GREETING', value: 'from-web' }] }));
    expect((await waitForDeployment(api, 'web', res.json.deployment)).step).toBe('succeeded');
    const serving = instanceContainers(t.server.instance, 'label=io.berth.service=web');
    const result = await berth(['run', 'web', '--', 'sh', '-c', 'echo $GREETING $CONTEXT_ROOT']);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('from-web /it-jobs-web\n');
    expect(instanceContainers(t.server.instance, 'label=io.berth.service=web')).toEqual(serving);
  });

  it('prints the job id with -d and returns, and the job runs on', async () => {
    const result = await berth(['run', '-d', '--image', DEMO_IMAGE, '--memory-limit', '32', '--', 'sh', '-c', 'sleep 1; echo done']);
    expect(result.code).toBe(0);
    const id = Number(result.stdout.trim());
    expect(id).toBeGreaterThan(0);
    expect(['queued', 'running']).toContain((await job(id)).status);
    expect((await finished(id)).status).toBe('succeeded');
  });

  it('kills a job at its timeout: status timed-out, exit code 124', async () => {
    const result = await berth(['run', '--image', DEMO_IMAGE, '--memory-limit', '32', '--timeout', '1', '--', 'sleep', '30']);
    expect(result.code).toBe(124);
    const id = Number(/job (\d+)/.exec(result.stderr)?.[1]);
    expect(await job(id)).toMatchObject({ status: 'timed-out', reason: 'timed out after 1 s; its task was killed' });
    expect(instanceContainers(t.server.instance, `label=io.berth.job=${id}`)).toEqual([]);
  });

  it('retries a failing job with backoff, each attempt visible', async () => {
    const result = await berth(['run', '--image', DEMO_IMAGE, '--memory-limit', '32', '--retries', '2', '--', 'sh', '-c', 'echo try; exit 1']);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('try\ntry\ntry\n');
    const id = Number(/job (\d+)/.exec(result.stderr)?.[1]);
    const doc = await job(id);
    expect(doc.attempt_list.map((a: any) => a.outcome)).toEqual(['exited with code 1', 'exited with code 1', 'exited with code 1']);
    // 1 s, then 2 s between attempts.
    const starts = doc.attempt_list.map((a: any) => Date.parse(a.started_at));
    expect(starts[1] - starts[0]).toBeGreaterThanOrEqual(1_000);
    expect(starts[2] - starts[1]).toBeGreaterThanOrEqual(2_000);
    expect(doc.reason).toBe('exited with code 1 (after 3 attempts)');
  });

  it('reports an out-of-memory kill as such', async () => {
    const result = await berth(image('x=$(head -c 100000000 /dev/zero | tr "\\0" x); echo ${#x}'));
    expect(result.code).toBe(137);
    const id = Number(/job (\d+)/.exec(result.stderr)?.[1]);
    expect((await job(id)).reason).toBe('was killed for running out of memory (limit 32 MiB)');
  });
});

describe('jobs on the server', () => {
  it('cancels a running job: its task is stopped and it ends cancelled', async () => {
    const { id } = (await api.call('POST', '/jobs', { image: DEMO_IMAGE, command: ['sleep', '60'], 'memory-limit': 32 })).json;
    await waitFor('running', async () => (await job(id)).status === 'running');
    const cancel = await berth(['job', 'cancel', String(id)]);
    expect(cancel.code).toBe(0);
    expect((await finished(id)).status).toBe('cancelled');
    expect(instanceContainers(t.server.instance, `label=io.berth.job=${id}`)).toEqual([]);
  });

  it('queues a job that does not fit the memory, says why, and starts it when memory frees', async () => {
    const big = (await api.call('POST', '/jobs', { image: DEMO_IMAGE, command: ['sleep', '3'], 'memory-limit': 200 })).json.id;
    await waitFor('big running', async () => (await job(big)).status === 'running');
    const next = (await api.call('POST', '/jobs', { image: DEMO_IMAGE, command: ['true'], 'memory-limit': 200 })).json.id;
    const waiting = await waitFor('next queued with a reason', async () => ((await job(next)).reason?.startsWith('waiting for') ? job(next) : null));
    expect(waiting.status).toBe('queued');
    expect(waiting.reason).toMatch(/^waiting for 200 MiB; \d+ MiB free of 300$/);
    const done = await finished(next);
    expect(done.status).toBe('succeeded');
    expect(Date.parse(done.started_at)).toBeGreaterThanOrEqual(Date.parse((await job(big)).finished_at));
  });

  it('shows a job’s progress while it runs, and berth job status draws it', async () => {
    const command = ['sh', '-c', 'echo "BERTH-PROGRESS 1/4 reading"; sleep 1; echo "BERTH-PROGRESS 3/4 writing"; sleep 30'];
    const { id } = (await api.call('POST', '/jobs', { image: DEMO_IMAGE, command, 'memory-limit': 32 })).json;
    await waitFor('progress 1/4', async () => (await job(id)).progress?.done === 1);
    expect((await job(id)).progress).toEqual({ done: 1, total: 4, message: 'reading', percent: 25 });
    await waitFor('progress 3/4', async () => (await job(id)).progress?.done === 3);
    expect((await job(id)).status).toBe('running');
    const status = await berth(['job', 'status', String(id)]);
    expect(status.stdout).toMatch(/\]\s+75% 3\/4 writing/);
    await api.call('POST', `/jobs/${id}/cancel`);
    await finished(id);
  });

  it('runs a schedule, shows its next run, and never starts a run while the one before still goes', async () => {
    const { id } = (await api.call('POST', '/jobs', { image: DEMO_IMAGE, command: ['sleep', '2'], 'memory-limit': 16, schedule: '* * * * * *' })).json;
    const listed = await berth(['jobs']);
    expect(listed.stdout).toMatch(new RegExp(`^${id}\\s+scheduled\\s.*next \\d{4}-`, 'm'));
    await waitFor('a skipped run', async () => (await job(id)).events.some((e: any) => /was not started: job \d+, the run before, is still running/.test(e.message)), 20_000);
    await waitFor('two runs', async () => (await api.call('GET', '/jobs')).json.filter((j: any) => j.schedule_id === id).length >= 2, 20_000);
    await api.call('POST', `/jobs/${id}/cancel`);
    await waitFor('schedule cancelled', async () => (await job(id)).status === 'cancelled');
  });
});

describe('a job across a server kill -9', () => {
  it('is adopted after the restart and finishes with its real exit code, reported once', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'berth-it-jobs-'));
    const server = new ServerProcess(dataDir, 18510);
    let instance = '';
    try {
      await server.start();
      const jobs = await server.api.project('it-jobs-kill');
      const { id } = (await jobs.call('POST', '/jobs', { image: DEMO_IMAGE, command: ['sh', '-c', 'echo before; sleep 4; echo after; exit 7'], 'memory-limit': 32 })).json;
      const task = await waitFor('its task running', async () => docker('ps', '-q', '--filter', 'label=io.berth.project=it-jobs-kill', '--filter', `label=io.berth.job=${id}`));
      instance = docker('inspect', '-f', '{{index .Config.Labels "io.berth.instance"}}', task);
      expect(await server.stop('SIGKILL')).toBe('SIGKILL');
      await server.start();
      const done = await waitFor('finished', async () => {
        const doc = (await jobs.call('GET', `/jobs/${id}`)).json;
        return doc.finished_at ? doc : null;
      });
      expect(done).toMatchObject({ status: 'failed', exit_code: 7, attempts: 1 });
      expect(done.events.filter((e: any) => e.message.startsWith('attempt 1 exited'))).toHaveLength(1);
      const logs = (await jobs.call('GET', `/jobs/${id}/logs`)).json.logs[0].log_events.map((e: any) => e.message);
      expect(logs).toEqual(['before', 'after']);
      expect(docker('ps', '-aq', '--filter', `label=io.berth.instance=${instance}`, '--filter', `label=io.berth.job=${id}`)).toBe('');
    } finally {
      await server.destroy(instance || null);
    }
  });
});
