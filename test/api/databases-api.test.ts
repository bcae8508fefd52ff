import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { NodesPort } from '../../src/api/ports.js';
import { secretOwner } from '../../src/secrets/secret-store.js';
import { ADMIN, apiHarness, createProject, type Harness } from '../support/api-harness.js';

let h: Harness;
let token: string;
let other: string;

beforeEach(async () => {
  h = await apiHarness();
  token = await createProject(h.app, 'dbt-a');
  other = await createProject(h.app, 'dbt-b');
});
afterEach(async () => h.close());

function call(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: string, payload?: unknown, auth: string = token) {
  return h.app.inject({ method, url, headers: { 'x-auth-token': auth }, ...(payload === undefined ? {} : { payload: payload as object }) });
}

describe('databases seen from another project', () => {
  it('are not there: every route answers 404 and the list is empty', async () => {
    expect((await call('POST', '/databases', { name: 'pg', engine: 'postgres' })).statusCode).toBe(201);
    const backup = (await call('POST', '/databases/pg/backups')).json() as { id: number };
    const routes: [method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, body?: unknown][] = [
      ['GET', '/databases/pg'],
      ['PATCH', '/databases/pg', { keep: 3 }],
      ['GET', '/databases/pg/url'],
      ['GET', '/databases/pg/data'],
      ['GET', '/databases/pg/dump'],
      ['GET', '/databases/pg/backups'],
      ['POST', '/databases/pg/backups'],
      ['GET', `/databases/pg/backups/${backup.id}`],
      ['POST', `/databases/pg/backups/${backup.id}/verify`],
      ['POST', `/databases/pg/backups/${backup.id}/restore`],
      ['GET', '/databases/pg/restores/1'],
      ['DELETE', '/databases/pg'],
    ];
    for (const [method, url, body] of routes) {
      const res = await call(method, url, body, other);
      expect(res.statusCode, `${method} ${url}`).toBe(404);
      expect(res.json().code, `${method} ${url}`).toBe('BERTH_DATABASE_NOT_FOUND');
    }
    const upload = await h.app.inject({ method: 'POST', url: '/databases/pg/restore', headers: { 'x-auth-token': other, 'content-type': 'application/octet-stream' }, payload: Buffer.from('PGDMP') });
    expect(upload.statusCode).toBe(404);
    expect((await call('GET', '/databases', undefined, other)).json()).toEqual([]);
    // Nothing of project dbt-a's database changed.
    const own = (await call('GET', '/databases/pg')).json();
    expect(own).toMatchObject({ name: 'pg', keep: 7 });
    expect(h.store.backups.ofDatabase(h.store.databases.find('dbt-a', 'pg')?.id ?? 0)).toHaveLength(1);
  });

  it('does not take the name: project dbt-b makes its own pg', async () => {
    await call('POST', '/databases', { name: 'pg', engine: 'postgres' });
    expect((await call('POST', '/databases', { name: 'pg', engine: 'redis' }, other)).statusCode).toBe(201);
    expect((await call('POST', '/services', { name: 'pg' }, other)).statusCode).toBe(405);
  });
});

describe('names shared by databases, services and stack services', () => {
  it('refuses a database named like a service, a service named like a database, and a stack service named like a database', async () => {
    await call('POST', '/services', { name: 'web' });
    const clash = await call('POST', '/databases', { name: 'web', engine: 'postgres' });
    expect(clash.statusCode).toBe(409);
    expect(clash.json().code).toBe('BERTH_DATABASE_NAME_TAKEN');

    await call('POST', '/databases', { name: 'app-cache', engine: 'redis' });
    const service = await call('POST', '/services', { name: 'app-cache' });
    expect(service.statusCode).toBe(405);
    expect(service.json().Error).toMatch(/is a database of this project/);

    const stack = await call('PUT', '/stacks/app', { compose: 'services:\n  cache: {image: redis:7}\n' });
    expect(stack.statusCode).toBe(409);
    expect(stack.json()).toMatchObject({ code: 'BERTH_STACK_NAME_TAKEN' });
    expect(stack.json().Error).toMatch(/'app-cache', the name of a database/);
    expect((await call('GET', '/stacks/app')).statusCode).toBe(404);
    expect(h.store.services.find('dbt-a', 'app-cache')).toBeNull();
    // Another project's stack of the same name is its own business.
    expect((await call('PUT', '/stacks/app', { compose: 'services:\n  cache: {image: redis:7}\n' }, other)).statusCode).toBe(200);
  });
});

describe('bad input', () => {
  it('is a 400 naming what is wrong, and nothing is made', async () => {
    const cases: [unknown, RegExp][] = [
      [{ name: 'Bad_Name', engine: 'postgres' }, /Invalid database name/],
      [{ name: 'pg', engine: 'mysql' }, /'engine' must be one of postgres, redis/],
      [{ name: 'pg', engine: 'postgres', keep: 0 }, /'keep' must be an integer from 1/],
      [{ name: 'pg', engine: 'postgres', 'backup-schedule': 'every day' }, /backup-schedule/],
      [{ name: 'pg', engine: 'postgres', 'memory-reservation': 600, 'memory-limit': 300 }, /may not be greater than 'memory-limit'/],
      [{ name: 'pg', engine: 'postgres', image: 'x', version: '16' }, /'image' or 'version', not both/],
    ];
    for (const [body, message] of cases) {
      const res = await call('POST', '/databases', body);
      expect(res.statusCode, JSON.stringify(body)).toBe(400);
      expect(res.json().Error).toMatch(message);
    }
    expect((await call('GET', '/databases')).json()).toEqual([]);
    expect(h.store.secrets.countsByKey().size).toBe(0);
  });

  it('refuses a database whose memory reservation does not fit, as for a service, and makes nothing', async () => {
    const big = await call('POST', '/databases', { name: 'pg', engine: 'postgres', 'memory-reservation': 4097, 'memory-limit': 4097 });
    expect(big.statusCode).toBe(409);
    expect(big.json()).toMatchObject({ code: 'BERTH_DATABASE_DOES_NOT_FIT', Error: expect.stringMatching(/reserves 4097 MiB, but only 4096 MiB is unreserved/) });
    expect((await call('GET', '/databases')).json()).toEqual([]);
    expect(h.store.secrets.countsByKey().size).toBe(0);
    expect((await call('POST', '/databases', { name: 'pg', engine: 'postgres', 'memory-reservation': 256, 'memory-limit': 512 })).statusCode).toBe(201);
    // A change counts what the database holds now as freed.
    const grow = await call('PATCH', '/databases/pg', { 'memory-reservation': 4400, 'memory-limit': 4400 });
    expect(grow.statusCode).toBe(409);
    expect(grow.json().code).toBe('BERTH_DATABASE_DOES_NOT_FIT');
    expect((await call('GET', '/databases/pg')).json()).toMatchObject({ memory_reservation: 256, revision: 1 });
    // Both refusals are counted where an operator watching admission looks.
    expect((await call('GET', '/metrics', undefined, ADMIN)).body).toContain('berth_admission_refusals_total{kind="database"} 2');
  });

  it('refuses a restore of a file that is not a dump of its engine before keeping anything', async () => {
    await call('POST', '/databases', { name: 'pg', engine: 'postgres' });
    for (const body of [Buffer.from('hello'), Buffer.from('REDIS0011\u00fa\tredis-ver')]) {
      const res = await h.app.inject({ method: 'POST', url: '/databases/pg/restore', headers: { 'x-auth-token': token, 'content-type': 'application/octet-stream' }, payload: body });
      expect(res.statusCode).toBe(400);
      expect(res.json().code).toBe('BERTH_DUMP_REFUSED');
    }
    expect(h.store.backups.restoresOf(h.store.databases.find('dbt-a', 'pg')?.id ?? 0, 10)).toEqual([]);
  });
});

describe('databases on Swarm', () => {
  it('refuses a Redis restore, which Swarm cannot do yet, saying so, and keeps nothing', async () => {
    const swarm = await apiHarness({ nodes: { orchestrator: 'swarm' } as NodesPort });
    try {
      const own = await createProject(swarm.app, 'dbt-s');
      const post = (url: string, payload?: Buffer) =>
        swarm.app.inject({ method: 'POST', url, headers: { 'x-auth-token': own, ...(payload ? { 'content-type': 'application/octet-stream' } : {}) }, ...(payload ? { payload } : {}) });
      expect((await swarm.app.inject({ method: 'POST', url: '/databases', headers: { 'x-auth-token': own }, payload: { name: 'cache', engine: 'redis' } })).statusCode).toBe(201);
      const res = await post('/databases/cache/restore', Buffer.from('REDIS0011\u00fa\tredis-ver'));
      expect([res.statusCode, res.json().code]).toEqual([501, 'BERTH_RESTORE_UNSUPPORTED']);
      expect(res.json().Error).toMatch(/not supported on Swarm yet/);
      expect(swarm.store.backups.restoresOf(swarm.store.databases.find('dbt-s', 'cache')?.id ?? 0, 10)).toEqual([]);
    } finally {
      await swarm.close();
    }
  });
});

describe('secrets at rest', () => {
  it('keeps a database password and compose secrets sealed, out of documents and the audit trail', async () => {
    await call('POST', '/databases', { name: 'pg', engine: 'postgres' });
    const url = (await call('GET', '/databases/pg/url')).json().url as string;
    const password = decodeURIComponent(url.split(':')[2]?.split('@')[0] ?? '');
    expect(password.length).toBeGreaterThan(20);

    const compose = 'services:\n  web:\n    image: web:1\n    secrets: [api_key]\n    configs: [site]\nsecrets:\n  api_key: {file: ./key.txt}\nconfigs:\n  site: {file: ./site.conf}\n';
    const put = await call('PUT', '/stacks/app', { compose, attachments: { './key.txt': 'stack-s3cret-42', './site.conf': 'listen 80;' } });
    expect(put.statusCode, put.body).toBe(200);
    const stack = h.store.stacks.find('dbt-a', 'app');
    // Configs stay as they are; the secret is only in the secret store, sealed.
    expect(h.store.stacks.files(stack?.id ?? 0)).toEqual({ 'config-site': 'listen 80;' });
    expect(h.secrets.get(secretOwner.stack(stack?.id ?? 0), 'api_key')).toBe('stack-s3cret-42');

    const shown = JSON.stringify([
      (await call('GET', '/databases/pg')).json(),
      (await call('GET', '/databases')).json(),
      (await call('GET', '/stacks/app')).json(),
      (await call('GET', '/audit?limit=100', undefined, ADMIN)).json(),
    ]);
    for (const value of [password, 'stack-s3cret-42']) expect(shown).not.toContain(value);
    const rows = h.store.db.prepare('SELECT sealed FROM secrets').all() as { sealed: Buffer }[];
    for (const row of rows) for (const value of [password, 'stack-s3cret-42']) expect(row.sealed.includes(Buffer.from(value))).toBe(false);

    // A new revision of the stack without the secret takes it away.
    await call('PUT', '/stacks/app', { compose: 'services:\n  web: {image: web:1}\n' });
    expect(h.secrets.get(secretOwner.stack(stack?.id ?? 0), 'api_key')).toBeNull();
  });

  it('seals the plain-text stack secrets an earlier version kept, once', () => {
    const stack = h.store.stacks.ensure('dbt-a', 'old');
    h.store.stacks.setFiles(stack.id, { 'secret-token': 'plain-old-value', 'config-site': 'x' });
    const seal = (stackId: number, name: string, value: string) => h.secrets.put(secretOwner.stack(stackId), name, value);
    expect(h.store.stacks.sealPlainSecrets(seal)).toBe(1);
    expect(h.store.stacks.files(stack.id)).toEqual({ 'config-site': 'x' });
    expect(h.secrets.get(secretOwner.stack(stack.id), 'token')).toBe('plain-old-value');
    expect(h.store.stacks.sealPlainSecrets(seal)).toBe(0);
  });
});
