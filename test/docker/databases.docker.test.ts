import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, DEMO_IMAGE, docker, startTestServer, waitFor, waitForDeployment, type ApiClient, type TestServer } from '../support/docker-harness.js';

const ROOT = join(import.meta.dirname, '../..');
const SECRET = 'dbt-s3cret-value-9f2a';
const STACK_SECRET = 'dbt-stack-s3cret-71c0';
let server: TestServer;
let a: ApiClient;
let b: ApiClient;

function sql(container: string, query: string): string {
  return docker('exec', container, 'psql', '-U', 'postgres', '-d', 'pg', '-Atc', query);
}

async function ready(api: ApiClient, name: string, revision?: number): Promise<any> {
  return waitFor(`${name} ready`, async () => {
    const res = await api.call('GET', `/databases/${name}`);
    return res.status === 200 && res.json.status === 'ready' && (revision === undefined || res.json.revision === revision) ? res.json : null;
  }, 120_000, 250);
}

async function backupDone(api: ApiClient, name: string, id: number): Promise<any> {
  return waitFor(`backup ${id}`, async () => {
    const res = await api.call('GET', `/databases/${name}/backups/${id}`);
    return res.json.status === 'verified' || res.json.status === 'failed' ? res.json : null;
  }, 120_000, 250);
}

async function restoreDone(api: ApiClient, name: string, id: number): Promise<any> {
  return waitFor(`restore ${id}`, async () => {
    const res = await api.call('GET', `/databases/${name}/restores/${id}`);
    return res.json.status === 'succeeded' || res.json.status === 'failed' ? res.json : null;
  }, 120_000, 250);
}

function taskOf(name: string): string {
  return docker('ps', '-q', '--filter', `label=io.berth.instance=${server.server.instance}`, '--filter', 'label=io.berth.role=serve', '--filter', `name=-${name}-db-`);
}

async function upload(api: ApiClient, name: string, body: Buffer): Promise<{ status: number; json: any }> {
  const res = await fetch(`${api.base}/databases/${name}/restore`, { method: 'POST', headers: { 'x-auth-token': api.token, 'content-type': 'application/octet-stream' }, body: new Uint8Array(body) });
  return { status: res.status, json: await res.json() };
}

describe('managed databases', () => {
  beforeAll(async () => {
    execFileSync('bash', [join(ROOT, 'scripts/build-postgres-image.sh'), 'postgres:15'], { stdio: 'pipe' });
    execFileSync('bash', [join(ROOT, 'scripts/build-redis-image.sh'), 'redis:7'], { stdio: 'pipe' });
    server = await startTestServer({ basePort: 19200, memoryCapacity: '4096' });
    a = await server.api.project('dbt-a');
    b = await server.api.project('dbt-b');
  });

  afterAll(async () => {
    const instance = server?.server.instance;
    await server?.destroy();
    if (instance) {
      const volumes = docker('volume', 'ls', '-q', '--filter', `label=io.berth.instance=${instance}`);
      if (volumes) docker('volume', 'rm', ...volumes.split('\n'));
    }
  });

  it('runs PostgreSQL that a service reaches by name, keeps its data over a redeploy, and hides its password', async () => {
    expect((await a.call('POST', '/databases', { name: 'pg', engine: 'postgres' })).status).toBe(201);
    expect((await a.call('POST', '/databases', { name: 'pg', engine: 'postgres' })).status).toBe(409);
    expect((await a.call('POST', '/databases', { name: 'huge', engine: 'postgres', 'memory-reservation': 100_000, 'memory-limit': 100_000 })).json.code).toBe('BERTH_DATABASE_DOES_NOT_FIT');
    await ready(a, 'pg');
    // Another project's token sees no database of that name.
    expect((await b.call('GET', '/databases/pg')).status).toBe(404);
    expect((await b.call('DELETE', '/databases/pg')).status).toBe(404);
    expect((await b.call('GET', '/databases/pg/dump')).status).toBe(404);

    await a.call('POST', '/services', { name: 'web' });
    const script =
      'psql -v ON_ERROR_STOP=1 -c "CREATE TABLE IF NOT EXISTS items(id int); INSERT INTO items SELECT generate_series(1,500)" && ' +
      'mkdir -p /www$CONTEXT_ROOT && echo "$API_KEY" > /www$CONTEXT_ROOT/index.html && exec busybox httpd -f -p 80 -h /www';
    const put = await a.call('PUT', '/services/web', {
      image: 'postgres:15', 'memory-reservation': 32, 'memory-limit': 64, 'container-port': 80, environment: [],
      secrets: [{ name: 'API_KEY', value: SECRET }], databases: ['pg'], command: ['sh', '-c', script],
    });
    expect(put.status).toBe(200);
    expect((await waitForDeployment(a, 'web', put.json.deployment, 90_000)).step).toBe('succeeded');
    expect(sql(taskOf('pg'), 'SELECT count(*) FROM items')).toBe('500');
    expect(await (await fetch(`${server.gatewayUrl}/dbt-a-web/`)).text()).toBe(`${SECRET}\n`);

    const url = (await a.call('GET', '/databases/pg/url')).json.url as string;
    expect(url).toMatch(/^postgres:\/\/postgres:[^@]+@pg:5432\/pg$/);
    const password = decodeURIComponent(url.split(':')[2]?.split('@')[0] ?? '');
    // Neither secret is in status, events, the audit trail, or the store's file in plain text.
    const shown = JSON.stringify([(await a.call('GET', '/services/web')).json, (await a.call('GET', '/databases/pg')).json, (await server.api.call('GET', '/audit?limit=100')).json]);
    for (const value of [SECRET, password]) {
      expect(shown).not.toContain(value);
      expect(readFileSync(join(server.dataDir, 'audit.log'), 'utf8')).not.toContain(value);
      for (const file of ['berth.db', 'berth.db-wal']) expect(readFileSync(join(server.dataDir, file)).includes(Buffer.from(value))).toBe(false);
    }

    expect((await a.call('PATCH', '/databases/pg', { 'memory-limit': 600 })).status).toBe(200);
    const replaced = await ready(a, 'pg', 2);
    expect(replaced.memory_limit).toBe(600);
    expect(sql(taskOf('pg'), 'SELECT count(*) FROM items')).toBe('500');
  });

  it('gives a stack service its compose secret as a file, keeping it sealed in the store', async () => {
    const compose = `services:
  web:
    image: ${DEMO_IMAGE}
    command: ["sh", "-c", "mkdir -p /www$$CONTEXT_ROOT && cp /run/secrets/api_key /www$$CONTEXT_ROOT/index.html && exec httpd -f -p 80 -h /www"]
    ports: ["80"]
    secrets: [api_key]
secrets:
  api_key: {file: ./api-key.txt}
`;
    const put = await a.call('PUT', '/stacks/sec', { compose, attachments: { './api-key.txt': `${STACK_SECRET}\n` } });
    expect(put.status, JSON.stringify(put.json)).toBe(200);
    await waitFor('the stack service serves', async () => {
      const res = await fetch(`${server.gatewayUrl}/dbt-a-sec-web/`);
      return res.status === 200 ? res.text() : null;
    }, 90_000, 250).then((body) => expect(body).toBe(`${STACK_SECRET}\n`));
    expect(JSON.stringify((await a.call('GET', '/stacks/sec')).json)).not.toContain(STACK_SECRET);
    for (const file of ['berth.db', 'berth.db-wal']) expect(readFileSync(join(server.dataDir, file)).includes(Buffer.from(STACK_SECRET))).toBe(false);
    expect((await a.call('DELETE', '/stacks/sec')).status).toBe(200);
  });

  it('dumps and restores through the API, refusing what is not a PostgreSQL dump before touching anything', async () => {
    const dump = Buffer.from(await (await fetch(`${a.base}/databases/pg/dump`, { headers: { 'x-auth-token': a.token } })).arrayBuffer());
    expect(dump.subarray(0, 5).toString()).toBe('PGDMP');
    expect((await upload(a, 'pg', Buffer.from('hello, not a dump'))).json.code).toBe('BERTH_DUMP_REFUSED');
    expect((await upload(a, 'pg', Buffer.from('REDIS0011\xfa\x09redis-ver'))).json.code).toBe('BERTH_DUMP_REFUSED');
    expect(sql(taskOf('pg'), 'SELECT count(*) FROM items')).toBe('500');

    sql(taskOf('pg'), 'DELETE FROM items WHERE id > 100');
    const restore = await upload(a, 'pg', dump);
    expect(restore.status).toBe(202);
    expect((await restoreDone(a, 'pg', restore.json.id)).status).toBe('succeeded');
    expect(sql(taskOf('pg'), 'SELECT count(*) FROM items')).toBe('500');

    // A plain SQL dump cut off mid-upload can load without an error: it is loaded while it
    // arrives, but never swapped in, and its fresh database goes.
    const plain = Buffer.from(await (await fetch(`${a.base}/databases/pg/dump?format=sql`, { headers: { 'x-auth-token': a.token } })).arrayBuffer());
    sql(taskOf('pg'), 'DELETE FROM items WHERE id > 100');
    const before = (await a.call('GET', '/databases/pg')).json.restore.id as number;
    const request = httpRequest(`${a.base}/databases/pg/restore`, { method: 'POST', headers: { 'x-auth-token': a.token, 'content-type': 'application/octet-stream', 'content-length': String(plain.length) } });
    request.on('error', () => {});
    request.write(plain.subarray(0, Math.floor(plain.length * 0.8)));
    const cut = await waitFor('the restore loading while the upload arrives', async () => {
      const doc = (await a.call('GET', '/databases/pg')).json.restore;
      return doc.id !== before && doc.status === 'loading' ? (doc.id as number) : null;
    }, 30_000, 20);
    request.destroy();
    expect(await restoreDone(a, 'pg', cut)).toMatchObject({ status: 'failed', reason: expect.stringMatching(/the upload did not arrive whole/) });
    expect(sql(taskOf('pg'), 'SELECT count(*) FROM items')).toBe('100');
    // (The first restore's old data is dropped just after it succeeded.)
    await waitFor('no restore database left', async () => docker('exec', taskOf('pg'), 'psql', '-U', 'postgres', '-d', 'postgres', '-Atc', "SELECT count(*) FROM pg_database WHERE datname LIKE 'pg-restore-%'") === '0', 30_000, 100);
    // The whole of it restores.
    const whole = await upload(a, 'pg', plain);
    expect(whole.status).toBe(202);
    expect((await restoreDone(a, 'pg', whole.json.id)).status).toBe('succeeded');
    expect(sql(taskOf('pg'), 'SELECT count(*) FROM items')).toBe('500');
  });

  it('verifies every backup by restoring it, and marks a damaged one failed', async () => {
    const queued = await a.call('POST', '/databases/pg/backups');
    expect(queued.status).toBe(202);
    const backup = await backupDone(a, 'pg', queued.json.id);
    expect(backup).toMatchObject({ status: 'verified', verified: true, counts: { 'public.items': 500 } });
    expect((await b.call('GET', `/databases/pg/backups/${backup.id}`)).status).toBe(404);

    const dir = join(server.dataDir, 'backups', 'dbt-a', 'pg');
    const file = join(dir, readdirSync(dir).find((f) => f.startsWith(`pg-${backup.id}.`)) as string);
    const bytes = readFileSync(file);
    bytes[Math.floor(bytes.length / 2)] = (bytes[Math.floor(bytes.length / 2)] ?? 0) ^ 0xff;
    writeFileSync(file, bytes);
    expect((await a.call('POST', `/databases/pg/backups/${backup.id}/verify`)).status).toBe(202);
    const checked = await backupDone(a, 'pg', backup.id);
    expect(checked.status).toBe('failed');
    expect(checked.reason).toMatch(/SHA-256/);
    const events = (await a.call('GET', '/databases/pg')).json.events.map((e: { message: string }) => e.message);
    expect(events.some((m: string) => m.includes(`backup ${backup.id} FAILED`))).toBe(true);
  });

  it('takes scheduled backups and keeps the newest verified ones', async () => {
    await a.call('PATCH', '/databases/pg', { 'backup-schedule': '*/2 * * * * *', keep: 2 });
    await waitFor('three scheduled backups verified', async () => {
      const list = (await a.call('GET', '/databases/pg/backups')).json as { trigger: string; status: string }[];
      const events = (await a.call('GET', '/databases/pg')).json.events as { message: string }[];
      return events.filter((e) => e.message.includes('verified: restored')).length >= 4 && list.filter((x) => x.trigger === 'schedule').length > 0;
    }, 180_000, 500);
    await a.call('PATCH', '/databases/pg', { 'backup-schedule': null });
    const list = (await a.call('GET', '/databases/pg/backups')).json as { status: string }[];
    expect(list.filter((x) => x.status === 'verified').length).toBe(2);
  });

  it('runs Redis, backs it up verified by key count, and restores its RDB through a scratch copy', async () => {
    expect((await a.call('POST', '/databases', { name: 'cache', engine: 'redis' })).status).toBe(201);
    await ready(a, 'cache');
    const url = (await a.call('GET', '/databases/cache/url')).json.url as string;
    const password = decodeURIComponent(url.split(':')[2]?.split('@')[0] ?? '');
    const cli = (...args: string[]) => docker('exec', '-e', `REDISCLI_AUTH=${password}`, taskOf('cache'), 'redis-cli', ...args);
    for (let i = 0; i < 50; i++) cli('SET', `k${i}`, String(i));
    const backup = await backupDone(a, 'cache', (await a.call('POST', '/databases/cache/backups')).json.id);
    expect(backup.reason).toBeNull();
    expect(backup).toMatchObject({ status: 'verified', counts: { keys: 50 } });
    const rdb = Buffer.from(await (await fetch(`${a.base}/databases/cache/dump`, { headers: { 'x-auth-token': a.token } })).arrayBuffer());
    expect(rdb.subarray(0, 5).toString()).toBe('REDIS');
    expect((await upload(a, 'cache', readFileSync(join(ROOT, 'package.json')))).json.code).toBe('BERTH_DUMP_REFUSED');
    cli('FLUSHALL');
    const restore = await upload(a, 'cache', rdb);
    expect((await restoreDone(a, 'cache', restore.json.id)).status).toBe('succeeded');
    expect(cli('DBSIZE')).toBe('50');
  });

  it('keeps every secret through a key rotation killed midway, and refuses to start without the key', async () => {
    await server.server.stop();
    // The server ran inside this test's process, which lives on: its pid file would keep rotate-key out.
    rmSync(join(server.dataDir, 'server.pid'));
    const berth = (env: Record<string, string> = {}) => spawnSync('node', [join(ROOT, 'bin/berth.js'), 'server', 'rotate-key', '--data-dir', server.dataDir], { env: { ...process.env, ...env }, encoding: 'utf8' });
    const killed = berth({ BERTH_FAULT_POINT: 'rotate:resealed' });
    expect(killed.signal).toBe('SIGKILL');
    expect(Object.keys(JSON.parse(readFileSync(join(server.dataDir, 'secrets.key'), 'utf8')).keys)).toHaveLength(2);
    const resumed = berth();
    expect(resumed.status).toBe(0);
    expect(resumed.stdout).toMatch(/finished the rotation/);
    expect(Object.keys(JSON.parse(readFileSync(join(server.dataDir, 'secrets.key'), 'utf8')).keys)).toHaveLength(1);

    const key = readFileSync(join(server.dataDir, 'secrets.key'));
    expect(statSync(join(server.dataDir, 'secrets.key')).mode & 0o777).toBe(0o600);
    writeFileSync(join(server.dataDir, 'secrets.key'), key.toString().replace(/"[A-Za-z0-9+/]{43}="/, `"${Buffer.alloc(32, 7).toString('base64')}"`), { mode: 0o600 });
    await expect(server.restart()).rejects.toThrow(/does not open/);
    writeFileSync(join(server.dataDir, 'secrets.key'), key, { mode: 0o600 });
    server.server = await (await import('../../src/server/server.js')).BerthServer.start(server.server.config, { logLevel: 'warn' });
    expect((await a.call('GET', '/databases/pg/url')).json.url).toMatch(/^postgres:/);
    // A new task of the service gets its secret opened with the new key.
    const put = await a.call('PUT', '/services/web', {
      image: 'postgres:15', 'memory-reservation': 32, 'memory-limit': 64, 'container-port': 80, environment: [], secrets: [{ name: 'API_KEY', value: SECRET }], databases: ['pg'],
      command: ['sh', '-c', 'psql -Atc "SELECT count(*) FROM items" > /tmp/n && mkdir -p /www$CONTEXT_ROOT && cat /tmp/n > /www$CONTEXT_ROOT/index.html && exec busybox httpd -f -p 80 -h /www'],
    });
    expect((await waitForDeployment(a, 'web', put.json.deployment, 90_000)).step).toBe('succeeded');
    expect(await (await fetch(`${server.gatewayUrl}/dbt-a-web/`)).text()).toBe('500\n');
    expect(ADMIN_TOKEN).toBeTruthy();
  });

  it('keeps the volume on rm and brings the data back on create; --delete-data removes it', async () => {
    await a.call('DELETE', '/services/web');
    await a.call('DELETE', '/databases/pg');
    await waitFor('pg removed', async () => (await a.call('GET', '/databases/pg')).json.status === 'removed', 60_000, 250);
    expect(taskOf('pg')).toBe('');
    expect((await a.call('POST', '/databases', { name: 'pg', engine: 'postgres' })).status).toBe(201);
    await ready(a, 'pg');
    expect(sql(taskOf('pg'), 'SELECT count(*) FROM items')).toBe('500');
    await a.call('DELETE', '/databases/pg?delete_data=true');
    expect((await a.call('GET', '/databases/pg')).status).toBe(404);
    // Its volume goes once its task has stopped and is removed.
    await waitFor('the volume of pg removed', async () => docker('volume', 'ls', '-q', '--filter', `label=io.berth.instance=${server.server.instance}`, '--filter', 'label=io.berth.database=pg') === '', 60_000, 250);
    expect((await a.call('GET', '/databases')).json.map((d: { name: string }) => d.name)).not.toContain('pg');
  });
});
