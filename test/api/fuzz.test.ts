import { describe, expect, it } from 'vitest';
import { ADMIN, apiHarness, createProject, VALID_DEFINITION } from '../support/api-harness.js';

/** A small deterministic PRNG, so a failure can be replayed from its seed. */
function rng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

const WEIRD_STRINGS = [
  '', ' ', '../../etc/passwd', '..%2F..%2Fetc', '%00', '\u0000', 'é', '日本語', '🚀', 'a'.repeat(300), '<script>', "'; DROP TABLE services;--",
  'web\nX-Injected: 1', '__proto__', 'constructor', 'NaN', '-1', '1e309', '$(reboot)', 'web/../../x', '   web', 'WEB',
];
const WEIRD_VALUES: unknown[] = [
  null, true, false, 0, -1, 1.5, 1e308, -1e308, Number.MAX_SAFE_INTEGER + 2, 2 ** 53, [], {}, [[]], [{}], { a: { b: { c: {} } } },
  ...WEIRD_STRINGS,
];

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)] as T;
}

function deep(depth: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = i % 2 === 0 ? [value] : { a: value };
  return value;
}

/** Mutates a valid body: replaces, removes or adds a key, or swaps the whole body. */
function mutate(random: () => number, body: Record<string, unknown>): unknown {
  const copy: Record<string, unknown> = structuredClone(body);
  const keys = Object.keys(copy);
  switch (Math.floor(random() * 6)) {
    case 0:
      copy[pick(random, keys)] = pick(random, WEIRD_VALUES);
      return copy;
    case 1:
      delete copy[pick(random, keys)];
      return copy;
    case 2:
      copy[pick(random, WEIRD_STRINGS) || 'x'] = pick(random, WEIRD_VALUES);
      return copy;
    case 3:
      return pick(random, WEIRD_VALUES);
    case 4:
      copy[pick(random, keys)] = deep(1 + Math.floor(random() * 2000));
      return copy;
    default:
      copy.environment = [{ name: pick(random, WEIRD_STRINGS), value: pick(random, WEIRD_VALUES) }];
      return copy;
  }
}

describe('hostile input', () => {
  it('answers thousands of generated requests to every endpoint with 4xx, never 5xx, and changes nothing when it refuses', async () => {
    const h = await apiHarness({
      credentials: { credentialsFor: async (s) => ({ repo_uri: `r/${s.name}`, proxy_endpoint: 'r', user: 'u', password: 'p' }) },
    });
    try {
      const token = await createProject(h.app, 'fuzz');
      await h.app.inject({ method: 'POST', url: '/services', headers: { 'x-auth-token': token }, payload: { name: 'web' } });
      const random = rng(20261122);
      const snapshot = () =>
        JSON.stringify({
          services: h.store.services.listAll().map((s) => [s.name, s.status, s.currentRevision]),
          revisions: h.store.db.prepare('SELECT COUNT(*) AS n FROM revisions').get(),
          deployments: h.store.db.prepare('SELECT COUNT(*) AS n FROM deployments').get(),
          jobs: h.store.db.prepare('SELECT COUNT(*) AS n, SUM(cancel_requested) AS c FROM jobs').get(),
          projects: h.store.projects.list(),
          milestone2: ['stacks', 'databases', 'backups', 'database_restores', 'secrets', 'project_networks', 'project_volumes'].map((table) => h.store.db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get()),
        });
      const paths = [
        '/services', '/services/web', '/services/web?view=logs', '/services/web?view=docker', '/services/web/events',
        '/services/web/deployments', '/services/web/deployments/1', '/services/web/deployments/1/cancel', '/projects', '/audit',
        '/services/web/logs/stream?tail=1', '/jobs', '/jobs/1', '/jobs/1/logs', '/jobs/1/logs/stream', '/jobs/1/cancel',
        // Milestone 2's endpoints.
        '/services/web/switch', '/services/web/redeploy', '/services/web/revisions', '/services/web/metrics', '/services/web?colour=green',
        '/stacks', '/stacks/s', '/networks', '/networks/n', '/volumes', '/volumes/v',
        '/databases', '/databases/pg', '/databases/pg/backups', '/databases/pg/backups/1', '/databases/pg/restores/1', '/databases/pg/url',
        '/nodes', '/nodes/n/drain', '/certs', '/metrics',
      ];
      let requests = 0;
      for (let i = 0; i < 3000; i++) {
        const before = snapshot();
        const method = pick(random, ['GET', 'POST', 'PUT', 'DELETE', 'PATCH'] as const);
        let url = pick(random, paths);
        if (random() < 0.3) url = url.replace('web', encodeURIComponent(pick(random, WEIRD_STRINGS)) || 'x');
        if (random() < 0.2) url += `${url.includes('?') ? '&' : '?'}${pick(random, ['tail', 'streams', 'view', 'limit', 'after'])}=${encodeURIComponent(pick(random, WEIRD_STRINGS))}`;
        const body = url.startsWith('/projects')
          ? mutate(random, { name: 'p' })
          : url.startsWith('/jobs')
            ? mutate(random, { image: 'busybox:1', command: ['true'], timeout: 5, retries: 1, schedule: '* * * * *' })
          : url.startsWith('/databases')
            ? mutate(random, { name: 'pg', engine: 'postgres', 'memory-reservation': 128, 'memory-limit': 256, backup_schedule: '0 * * * *', keep: 3 })
          : url.includes('/switch')
            ? mutate(random, { colour: 'green', force: true })
          : mutate(random, random() < 0.5 ? { ...VALID_DEFINITION } : { name: 'new', health_check: { rel_path: '/h', status_codes: '200', interval: 5 } });
        const auth = pick(random, [token, token, token, ADMIN, 'garbage', '']);
        const res = await h.app.inject({
          method,
          url,
          headers: { 'content-type': 'application/json', ...(auth ? { 'x-auth-token': auth } : {}) },
          ...(method === 'GET' || method === 'DELETE' ? {} : { payload: JSON.stringify(body) ?? 'null' }),
        });
        requests++;
        expect(res.statusCode, `${method} ${url} ${JSON.stringify(body)?.slice(0, 200)}`).toBeLessThan(500);
        if (res.statusCode >= 400) {
          expect(typeof res.json().Error, `${method} ${url}`).toBe('string');
          expect(snapshot(), `${method} ${url} changed state while refused`).toBe(before);
        }
      }
      const huge = await h.app.inject({
        method: 'PUT',
        url: '/services/web',
        headers: { 'content-type': 'application/json', 'x-auth-token': token },
        payload: JSON.stringify({ ...VALID_DEFINITION, environment: Array.from({ length: 20000 }, (_, i) => ({ name: `V${i}`, value: 'x'.repeat(60) })) }),
      });
      expect(huge.statusCode).toBe(413);
      expect(requests).toBe(3000);
    } finally {
      await h.close();
    }
  }, 120_000);

  it('rate-limits failed authentication per client', async () => {
    const h = await apiHarness({ authFailures: 5 });
    try {
      const codes: number[] = [];
      for (let i = 0; i < 7; i++) {
        codes.push((await h.app.inject({ method: 'GET', url: '/services', headers: { 'x-auth-token': 'wrong' } })).statusCode);
      }
      expect(codes).toEqual([403, 403, 403, 403, 403, 429, 429]);
      const limited = await h.app.inject({ method: 'GET', url: '/services', headers: { 'x-auth-token': 'wrong' } });
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    } finally {
      await h.close();
    }
  });

  it('never refuses a valid token because others failed from the same address', async () => {
    const h = await apiHarness({ authFailures: 5 });
    try {
      const token = await createProject(h.app, 'victim');
      for (let i = 0; i < 30; i++) {
        await h.app.inject({ method: 'GET', url: '/services', headers: { 'x-auth-token': `guess-${i}` } });
      }
      const wrong = await h.app.inject({ method: 'GET', url: '/services', headers: { 'x-auth-token': 'guess' } });
      expect(wrong.statusCode).toBe(429);
      const project = await h.app.inject({ method: 'GET', url: '/services', headers: { 'x-auth-token': token } });
      expect(project.statusCode).toBe(200);
      const admin = await h.app.inject({ method: 'POST', url: '/projects', headers: { 'x-auth-token': ADMIN }, payload: { name: 'after-lockout' } });
      expect(admin.statusCode).toBe(201);
      const bearer = await h.app.inject({ method: 'GET', url: '/services', headers: { authorization: `Bearer ${token}` } });
      expect(bearer.statusCode).toBe(200);
    } finally {
      await h.close();
    }
  });
});
