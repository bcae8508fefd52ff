import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ADMIN, apiHarness, createProject, PUBLIC_URL, VALID_DEFINITION, type Harness } from '../support/api-harness.js';

let h: Harness;
let token: string;

beforeEach(async () => {
  h = await apiHarness();
  token = await createProject(h.app, 'exp-2');
});
afterEach(async () => h.close());

function call(method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, payload?: unknown, auth: string | null = token) {
  return h.app.inject({
    method,
    url,
    headers: auth === null ? {} : { 'x-auth-token': auth },
    ...(payload === undefined ? {} : { payload: payload as object }),
  });
}

describe('projects', () => {
  it('creates a project with the admin token and refuses duplicates with 409', async () => {
    const res = await call('POST', '/projects', { name: 'exp-2' }, ADMIN);
    expect(res.statusCode).toBe(409);
    expect(res.json().Error).toMatch(/already exists/);
  });

  it('refuses a project token on the admin route', async () => {
    const res = await call('POST', '/projects', { name: 'other' });
    expect(res.statusCode).toBe(403);
  });

  it('refuses bad project names with 400', async () => {
    for (const name of ['Exp', '1abc', 'a b', '', 'x'.repeat(40)]) {
      const res = await call('POST', '/projects', { name }, ADMIN);
      expect(res.statusCode, name).toBe(400);
      expect(res.json().Error).toBeTypeOf('string');
    }
  });
});

describe('authentication', () => {
  it('answers 403 Token validation failed without a token or with a wrong one', async () => {
    for (const auth of [null, 'nope', `${token}x`]) {
      const res = await call('GET', '/services', undefined, auth);
      expect(res.statusCode).toBe(403);
      expect(res.json()).toMatchObject({ Error: 'Token validation failed' });
    }
  });

  it('accepts Authorization: Bearer', async () => {
    const res = await h.app.inject({ method: 'GET', url: '/services', headers: { authorization: `Bearer ${token}` } });
    expect(res.statusCode).toBe(200);
  });

  it('keeps projects apart', async () => {
    const other = await createProject(h.app, 'exp-3');
    expect((await call('POST', '/services', { name: 'web' })).statusCode).toBe(201);
    expect((await call('GET', '/services', undefined, other)).json()).toEqual([]);
    expect((await call('GET', '/services/web', undefined, other)).statusCode).toBe(404);
    expect((await call('PUT', '/services/web', VALID_DEFINITION, other)).statusCode).toBe(404);
    expect((await call('DELETE', '/services/web', undefined, other)).statusCode).toBe(404);
    expect((await call('GET', '/services')).json()).toHaveLength(1);
  });
});

describe('services', () => {
  it('creates a service and lists it with self and deployment links', async () => {
    const res = await call('POST', '/services', { name: 'web' });
    expect(res.statusCode).toBe(201);
    const expected = {
      name: 'web',
      links: [
        { href: '/services/web', rel: 'self' },
        { href: `${PUBLIC_URL}/exp-2-web`, rel: 'deployment' },
      ],
    };
    expect(res.json()).toEqual(expected);
    expect((await call('GET', '/services')).json()).toEqual([expected]);
  });

  it('answers 405 for invalid and taken names', async () => {
    await call('POST', '/services', { name: 'web' });
    for (const name of ['web', 'Web', '-web', 'web-', 'w_b', 'wéb', 'a'.repeat(27), 42, '../etc']) {
      const res = await call('POST', '/services', { name });
      expect(res.statusCode, String(name)).toBe(405);
      expect(res.json().Error).toBeTypeOf('string');
    }
    // exactly 32 characters with the prefix is allowed
    expect((await call('POST', '/services', { name: 'a'.repeat(26) })).statusCode).toBe(201);
  });

  it('validates the health check on create', async () => {
    const ok = await call('POST', '/services', { name: 'api', health_check: { rel_path: '/health', status_codes: '200-299', interval: 10 } });
    expect(ok.statusCode).toBe(201);
    const status = (await call('GET', '/services/api')).json().status;
    expect(status.target_health).toMatchObject({ health_check_path: '/exp-2-api/health', interval: 10, status_codes: '200-299' });
    for (const health_check of [{ status_codes: '99-200' }, { interval: 0 }, { rel_path: 'no-slash' }, { status_codes: 'abc' }, { extra: 1 }]) {
      const res = await call('POST', '/services', { name: 'bad', health_check });
      expect(res.statusCode, JSON.stringify(health_check)).toBe(400);
    }
    expect((await call('GET', '/services')).json()).toHaveLength(1);
  });

  it('shows an inactive service with defaults before any definition', async () => {
    await call('POST', '/services', { name: 'web' });
    const res = await call('GET', '/services/web');
    expect(res.statusCode).toBe(200);
    expect(res.json().status).toMatchObject({
      service_status: 'INACTIVE',
      count_desired: 0,
      count_running: 0,
      count_pending: 0,
      tasks: [],
      target_health: { health_check_path: '/exp-2-web/', interval: 5, status_codes: '200-399', targets: [] },
    });
    expect(res.json().status.events[0].message).toBe('service created');
  });

  it('stores numbered revisions on PUT and asks the reconciler to act', async () => {
    await call('POST', '/services', { name: 'web' });
    const kicksBefore = h.kicks();
    const first = await call('PUT', '/services/web', VALID_DEFINITION);
    expect(first.statusCode).toBe(200);
    expect(first.json()).toMatchObject({ name: 'web', revision: 1 });
    const second = await call('PUT', '/services/web', { ...VALID_DEFINITION, replicas: 2 });
    expect(second.json()).toMatchObject({ revision: 2 });
    expect(h.kicks() - kicksBefore).toBe(2);
    const service = h.store.services.find('exp-2', 'web');
    expect(h.store.revisions.list(service!.id).map((r) => r.number)).toEqual([2, 1]);
    expect(h.store.deployments.open(service!.id)).toHaveLength(2);
  });

  it('refuses invalid definitions with 400 and stores nothing', async () => {
    await call('POST', '/services', { name: 'web' });
    const bad: unknown[] = [
      { ...VALID_DEFINITION, 'memory-reservation': 128, 'memory-limit': 64 },
      { ...VALID_DEFINITION, 'memory-limit': '64' },
      { ...VALID_DEFINITION, 'container-port': 70000 },
      { ...VALID_DEFINITION, 'container-port': 80.5 },
      { ...VALID_DEFINITION, environment: [{ name: 'A' }] },
      { ...VALID_DEFINITION, environment: [{ name: '1A', value: 'x' }] },
      { ...VALID_DEFINITION, environment: {} },
      { ...VALID_DEFINITION, replicas: 0 },
      { ...VALID_DEFINITION, 'memory-limt': 64 },
      { 'memory-reservation': 32, 'memory-limit': 64, 'container-port': 80, environment: [] },
      { ...VALID_DEFINITION, 'container-tag': 'bad tag' },
      [],
      null,
    ];
    for (const body of bad) {
      const res = await call('PUT', '/services/web', body);
      expect(res.statusCode, JSON.stringify(body)).toBe(400);
      expect(res.json().Error, JSON.stringify(body)).toBeTypeOf('string');
    }
    const service = h.store.services.find('exp-2', 'web');
    expect(h.store.revisions.list(service!.id)).toEqual([]);
  });

  it('says clearly why reservation above limit is refused', async () => {
    await call('POST', '/services', { name: 'web' });
    const res = await call('PUT', '/services/web', { ...VALID_DEFINITION, 'memory-reservation': 128, 'memory-limit': 64 });
    expect(res.json().Error).toMatch(/memory-reservation.*greater than.*memory-limit/);
  });

  it('answers 404 for unknown services on every verb', async () => {
    expect((await call('GET', '/services/nope')).statusCode).toBe(404);
    expect((await call('PUT', '/services/nope', VALID_DEFINITION)).statusCode).toBe(404);
    expect((await call('DELETE', '/services/nope')).statusCode).toBe(404);
    expect((await call('GET', '/services/nope?view=logs')).statusCode).toBe(404);
  });

  it('marks a deleted service DRAINING and refuses new definitions for it', async () => {
    await call('POST', '/services', { name: 'web' });
    const res = await call('DELETE', '/services/web');
    expect(res.statusCode).toBe(200);
    expect((await call('GET', '/services/web')).json().status.service_status).toBe('DRAINING');
    expect((await call('PUT', '/services/web', VALID_DEFINITION)).statusCode).toBe(409);
  });

  it('answers view=docker with 501 when there is no registry', async () => {
    await call('POST', '/services', { name: 'web' });
    const res = await call('GET', '/services/web?view=docker');
    expect(res.statusCode).toBe(501);
    expect(res.json().Error).toBeTypeOf('string');
  });

  it('returns logs newest stream first, tail lines each', async () => {
    await call('POST', '/services', { name: 'web' });
    const line = (n: number) => ({ time: new Date(1000 * n), message: `line ${n}` });
    h.observer.streams = [
      { taskName: 'web-bbbb', createdAt: 2, lines: [line(1), line(2), line(3)] },
      { taskName: 'web-aaaa', createdAt: 1, lines: [line(1)] },
    ];
    const res = await call('GET', '/services/web?view=logs&tail=2&streams=1');
    expect(res.json()).toEqual({
      logs: [
        {
          stream_name: 'web-bbbb',
          log_events: [
            { time: new Date(2000).toISOString(), message: 'line 2' },
            { time: new Date(3000).toISOString(), message: 'line 3' },
          ],
        },
      ],
    });
    expect((await call('GET', '/services/web?view=logs&tail=abc')).statusCode).toBe(400);
    expect((await call('GET', '/services/web?view=nope')).statusCode).toBe(400);
  });

  it('streams log lines as NDJSON', async () => {
    await call('POST', '/services', { name: 'web' });
    h.observer.streams = [{ taskName: 'web-aaaa', createdAt: 1, lines: [{ time: new Date(5000), message: 'hello' }] }];
    const res = await call('GET', '/services/web/logs/stream?tail=5');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/application\/x-ndjson/);
    expect(res.body.trim().split('\n').map((l) => JSON.parse(l))).toEqual([
      { stream_name: 'web-aaaa', time: new Date(5000).toISOString(), message: 'hello' },
    ]);
  });

  it('cancels a deployment before it switches', async () => {
    await call('POST', '/services', { name: 'web' });
    const { deployment } = (await call('PUT', '/services/web', VALID_DEFINITION)).json();
    const res = await call('POST', `/services/web/deployments/${deployment}/cancel`);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ step: 'rolling-back', reason: 'cancelled by request' });
    expect((await call('DELETE', '/services/web/deployments/999')).statusCode).toBe(404);
  });
});

describe('bad input', () => {
  it('answers non-JSON, empty, huge and malformed bodies with a 4xx Error', async () => {
    await call('POST', '/services', { name: 'web' });
    const cases = [
      { headers: { 'content-type': 'application/json' }, payload: '{"name": ' },
      { headers: { 'content-type': 'application/json' }, payload: '' },
      { headers: { 'content-type': 'text/plain' }, payload: 'name=web' },
      { headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ name: 'x'.repeat(2 * 1024 * 1024) }) },
      { headers: { 'content-type': 'application/json' }, payload: '{"__proto__": {"admin": true}, "name": "evil"}' },
      { headers: { 'content-type': 'application/json' }, payload: '['.repeat(100_000) + ']'.repeat(100_000) },
    ];
    for (const c of cases) {
      const res = await h.app.inject({ method: 'POST', url: '/services', headers: { ...c.headers, 'x-auth-token': token }, payload: c.payload });
      expect(res.statusCode, c.payload.slice(0, 30)).toBeGreaterThanOrEqual(400);
      expect(res.statusCode, c.payload.slice(0, 30)).toBeLessThan(500);
      expect(res.json().Error).toBeTypeOf('string');
    }
    const huge = await h.app.inject({
      method: 'PUT',
      url: '/services/web',
      headers: { 'content-type': 'application/json', 'x-auth-token': token },
      payload: JSON.stringify({ ...VALID_DEFINITION, environment: [{ name: 'A', value: 'x'.repeat(2 * 1024 * 1024) }] }),
    });
    expect(huge.statusCode).toBe(413);
    expect((await call('GET', '/services')).json()).toHaveLength(1);
  });

  it('answers unknown paths with 404 and an Error', async () => {
    const res = await call('GET', '/nope');
    expect(res.statusCode).toBe(404);
    expect(res.json().Error).toMatch(/No route/);
  });
});

describe('the audit trail', () => {
  it('records who did what, without environment values, for the admin only', async () => {
    await call('POST', '/services', { name: 'web' });
    await call('PUT', '/services/web', { ...VALID_DEFINITION, environment: [{ name: 'DB_PASSWORD', value: 'hunter2' }] });
    await call('DELETE', '/services/web');
    expect((await call('GET', '/audit')).statusCode).toBe(403);
    const res = await call('GET', '/audit?limit=10', undefined, ADMIN);
    expect(res.statusCode).toBe(200);
    const entries = res.json().entries;
    expect(entries.map((e: any) => e.action)).toEqual(['service.delete', 'service.deploy', 'service.create', 'project.create']);
    expect(entries[1]).toMatchObject({ target: 'exp-2/web', actor: expect.stringMatching(/^project:exp-2 from /) });
    expect(entries[1].detail).toContain('DB_PASSWORD');
    expect(JSON.stringify(entries)).not.toContain('hunter2');
  });
});

describe('isolation between projects', () => {
  it('gives a project token no way to read or change another project’s service', async () => {
    await call('POST', '/services', { name: 'web' });
    const { deployment } = (await call('PUT', '/services/web', VALID_DEFINITION)).json();
    const other = await createProject(h.app, 'intruder');
    const attempts: [string, string, unknown?][] = [
      ['GET', '/services/web'],
      ['GET', '/services/web?view=logs'],
      ['GET', '/services/web?view=docker'],
      ['GET', '/services/web/logs/stream'],
      ['GET', '/services/web/events'],
      ['GET', '/services/web/deployments'],
      ['GET', `/services/web/deployments/${deployment}`],
      ['POST', `/services/web/deployments/${deployment}/cancel`],
      ['DELETE', `/services/web/deployments/${deployment}`],
      ['PUT', '/services/web', VALID_DEFINITION],
      ['DELETE', '/services/web'],
    ];
    for (const [method, url, body] of attempts) {
      const res = await call(method as 'GET', url, body, other);
      expect(res.statusCode, `${method} ${url}`).toBe(404);
    }
    expect((await call('GET', '/services', undefined, other)).json()).toEqual([]);
    const service = h.store.services.find('exp-2', 'web');
    expect(service?.status).toBe('INACTIVE');
    expect(h.store.deployments.get(deployment)?.step).toBe('pending');
  });

  it('refuses another project’s image on berth’s registry, by tag or digest and under any spelling, and stores nothing', async () => {
    const other = await createProject(h.app, 'beta');
    expect((await call('POST', '/services', { name: 'db' }, other)).statusCode).toBe(201);
    const digest = `sha256:${'ab'.repeat(32)}`;
    for (const image of [
      'registry.example:5000/exp-2/web:v1',
      'localhost:5000/exp-2/web:v1',
      `registry.example:5000/exp-2/web@${digest}`,
      `localhost:5000/exp-2/web:v1@${digest}`,
    ]) {
      const res = await call('PUT', '/services/db', { ...VALID_DEFINITION, image, command: ['ls', '-R', '/'] }, other);
      expect(res.statusCode, image).toBe(400);
      expect(res.json(), image).toMatchObject({ code: 'BERTH_IMAGE_NOT_OWNED', Error: expect.stringContaining('another project') });
    }
    for (const image of [`sha256:${'cd'.repeat(32)}`, 'cd'.repeat(32)]) {
      const res = await call('PUT', '/services/db', { ...VALID_DEFINITION, image }, other);
      expect(res.statusCode, image).toBe(400);
      expect(res.json().Error, image).toMatch(/not by image id/);
    }
    const service = h.store.services.find('beta', 'db');
    expect(h.store.revisions.list(service?.id as number)).toEqual([]);
    // The project's own repositories, and images from elsewhere, are fine.
    expect((await call('PUT', '/services/db', { ...VALID_DEFINITION, image: 'localhost:5000/beta/db:v1' }, other)).statusCode).toBe(200);
    expect((await call('PUT', '/services/db', { ...VALID_DEFINITION, image: 'redis:alpine' }, other)).statusCode).toBe(200);
  });

  it('keeps one project’s service from taking the address of another project’s', async () => {
    const a = await createProject(h.app, 'a');
    const ab = await createProject(h.app, 'a-b');
    expect((await call('POST', '/services', { name: 'b-c' }, a)).statusCode).toBe(201);
    const taken = await call('POST', '/services', { name: 'c' }, ab);
    expect(taken.statusCode).toBe(405);
    expect(taken.json()).toMatchObject({ code: 'BERTH_SERVICE_ADDRESS_TAKEN', Error: expect.stringContaining('/a-b-c') });
    expect((await call('GET', '/services', undefined, ab)).json()).toEqual([]);
    // Either order.
    expect((await call('POST', '/services', { name: 'd' }, ab)).statusCode).toBe(201);
    expect((await call('POST', '/services', { name: 'b-d' }, a)).statusCode).toBe(405);
  });

  it('gives the admin token no project’s services', async () => {
    expect((await call('GET', '/services', undefined, ADMIN)).statusCode).toBe(403);
  });
});
