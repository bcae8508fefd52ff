import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseDefinition } from '../../src/domain/definition.js';
import { ADMIN, apiHarness, CAPACITY_MIB, createProject, type Harness } from '../support/api-harness.js';

let h: Harness;
let token: string;

beforeEach(async () => {
  h = await apiHarness();
  token = await createProject(h.app, 'exp');
});
afterEach(async () => h.close());

function call(method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, payload?: unknown, auth: string | null = token) {
  return h.app.inject({ method, url, headers: auth === null ? {} : { 'x-auth-token': auth }, ...(payload === undefined ? {} : { payload: payload as object }) });
}

/** A service serving revision 1, as if deployed. */
function deployedService(name: string): void {
  const service = h.store.services.create('exp', name, { relPath: '/', statusCodes: [{ from: 200, to: 399 }], intervalSeconds: 5 });
  h.store.revisions.add(
    service.id,
    parseDefinition({ 'container-tag': 'v2', 'memory-reservation': 32, 'memory-limit': 64, 'container-port': 80, environment: [{ name: 'DB_PASSWORD', value: 'hunter2' }] }),
  );
  h.store.services.setCurrentRevision(service.id, 1);
}

describe('POST /jobs', () => {
  it('queues a job with an image and answers its id at once', async () => {
    const res = await call('POST', '/jobs', { image: 'busybox:1', command: ['sh', '-c', 'echo hi'], timeout: 30, retries: 2 });
    expect(res.statusCode).toBe(201);
    const { id, status } = res.json();
    expect(status).toBe('queued');
    expect(h.kicks()).toBeGreaterThan(0);
    const doc = (await call('GET', `/jobs/${id}`)).json();
    expect(doc).toMatchObject({
      id,
      status: 'queued',
      service: null,
      image: 'busybox:1',
      command: ['sh', '-c', 'echo hi'],
      timeout: 30,
      retries: 2,
      memory_limit: 256,
      memory_reservation: 256,
      attempts: 0,
      attempt_list: [],
      exit_code: null,
      progress: null,
    });
    expect(doc.events.map((e: { message: string }) => e.message)).toEqual(['queued']);
  });

  it('runs with a service’s current image and environment, and never writes the values to the audit trail', async () => {
    deployedService('web');
    const res = await call('POST', '/jobs', { service: 'web', command: ['migrate'] });
    expect(res.statusCode).toBe(201);
    const doc = (await call('GET', `/jobs/${res.json().id}`)).json();
    expect(doc).toMatchObject({ service: 'web', image: 'web:v2', memory_limit: 64, memory_reservation: 32 });
    const audit = (await call('GET', '/audit', undefined, ADMIN)).json();
    const entry = audit.entries.find((e: { action: string }) => e.action === 'job.create');
    expect(entry.detail).toContain('service web');
    expect(entry.detail).toContain('DB_PASSWORD');
    expect(JSON.stringify(audit)).not.toContain('hunter2');
  });

  it('takes a schedule and shows the next run', async () => {
    const res = await call('POST', '/jobs', { image: 'busybox:1', schedule: '*/5 * * * *' });
    expect(res.json().status).toBe('scheduled');
    const doc = (await call('GET', `/jobs/${res.json().id}`)).json();
    expect(doc.next_run).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d[05]:00\.000Z$/);
  });

  it.each([
    [{ service: 'nope', command: ['x'] }, 'BERTH_INVALID_JOB', /No service 'nope'/],
    [{ image: 'busybox:1', command: 'echo hi' }, 'BERTH_BAD_REQUEST', /command/],
    [{ image: 'busybox:1', command: [1, 2] }, 'BERTH_BAD_REQUEST', /command/],
    [{ image: 'busybox:1', timeout: 0 }, 'BERTH_INVALID_JOB', /'timeout' must be a positive number/],
    [{ image: 'busybox:1', timeout: 'soon' }, 'BERTH_BAD_REQUEST', /timeout/],
    [{ image: 'busybox:1', schedule: '61 * * * *' }, 'BERTH_INVALID_JOB', /'schedule' is not a cron expression/],
    [{ image: 'busybox:1', 'memory-limit': CAPACITY_MIB + 1 }, 'BERTH_INVALID_JOB', /can never fit/],
    [{ image: 'registry.example:5000/other/web:v1' }, 'BERTH_IMAGE_NOT_OWNED', /another project/],
    [{ command: ['x'] }, 'BERTH_INVALID_JOB', /needs 'service'/],
    [{ image: 'busybox:1', surprise: true }, 'BERTH_BAD_REQUEST', /surprise|additional/],
  ])('refuses %j with a 400 and stores nothing', async (body, code, message) => {
    const res = await call('POST', '/jobs', body);
    expect(res.statusCode).toBe(400);
    expect(res.json().code).toBe(code);
    expect(res.json().Error).toMatch(message);
    expect((await call('GET', '/jobs')).json()).toEqual([]);
  });

  it('refuses a service that serves nothing yet', async () => {
    h.store.services.create('exp', 'empty', { relPath: '/', statusCodes: [{ from: 200, to: 399 }], intervalSeconds: 5 });
    const res = await call('POST', '/jobs', { service: 'empty' });
    expect(res.statusCode).toBe(400);
    expect(res.json().Error).toMatch(/serves no revision yet/);
  });
});

describe('reading and cancelling jobs', () => {
  it('lists jobs newest first, shows logs, and cancels a job once', async () => {
    const first = (await call('POST', '/jobs', { image: 'busybox:1' })).json().id;
    const second = (await call('POST', '/jobs', { image: 'busybox:1' })).json().id;
    expect((await call('GET', '/jobs')).json().map((j: { id: number }) => j.id)).toEqual([second, first]);
    h.jobs.streams = [{ attempt: 1, taskName: `job-${first}-1`, lines: [{ time: new Date(0), message: 'hi' }] }];
    expect((await call('GET', `/jobs/${first}/logs`)).json()).toEqual({
      logs: [{ stream_name: `job-${first}-1`, log_events: [{ time: '1970-01-01T00:00:00.000Z', message: 'hi' }] }],
    });
    const stream = await call('GET', `/jobs/${first}/logs/stream`);
    expect(stream.headers['content-type']).toContain('application/x-ndjson');
    expect(JSON.parse(stream.body.trim())).toEqual({ stream_name: `job-${first}-1`, time: '1970-01-01T00:00:00.000Z', message: 'hi' });
    const cancelled = await call('POST', `/jobs/${first}/cancel`);
    expect(cancelled.statusCode).toBe(200);
    expect(cancelled.json().events[0].message).toBe('cancel requested');
    h.store.jobs.finish(h.store.jobs.get(first)!, 'cancelled', 'cancelled before it started');
    const again = await call('POST', `/jobs/${first}/cancel`);
    expect(again.statusCode).toBe(409);
    expect(again.json().Error).toContain('already been cancelled');
  });

  it('answers 404 for a job that does not exist or is no number', async () => {
    for (const id of ['999', 'abc', '1e3', '-1', '9'.repeat(30)]) {
      expect((await call('GET', `/jobs/${id}`)).statusCode, id).toBe(404);
    }
  });
});

describe('isolation between projects', () => {
  it('gives a project token no way to see or touch another project’s job', async () => {
    const id = (await call('POST', '/jobs', { image: 'busybox:1' })).json().id;
    const other = await createProject(h.app, 'intruder');
    for (const [method, url] of [
      ['GET', `/jobs/${id}`],
      ['GET', `/jobs/${id}/logs`],
      ['GET', `/jobs/${id}/logs/stream`],
      ['POST', `/jobs/${id}/cancel`],
    ] as const) {
      expect((await call(method, url, undefined, other)).statusCode, `${method} ${url}`).toBe(404);
    }
    expect((await call('GET', '/jobs', undefined, other)).json()).toEqual([]);
    // Nor run a job with its service.
    deployedService('web');
    const borrowed = await call('POST', '/jobs', { service: 'web' }, other);
    expect(borrowed.statusCode).toBe(400);
    expect(h.store.jobs.get(id)?.cancelRequested).toBe(false);
  });

  it('gives the admin token no project’s jobs, and a bad token nothing', async () => {
    expect((await call('GET', '/jobs', undefined, ADMIN)).statusCode).toBe(403);
    expect((await call('POST', '/jobs', { image: 'busybox:1' }, 'nope')).statusCode).toBe(403);
    expect((await call('GET', '/jobs', undefined, null)).statusCode).toBe(403);
  });
});
