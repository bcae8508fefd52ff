import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_IMAGE, docker, ensureDemoImage, waitFor, waitForDeployment, type ApiClient } from '../support/docker-harness.js';
import { ServerProcess } from '../support/server-process.js';

// Ports 19210-19213 belong to this file.
const ROOT = join(import.meta.dirname, '../..');
const dataDir = mkdtempSync(join(tmpdir(), 'berth-dbcrash-'));
const server = new ServerProcess(dataDir, 19210);
const ROWS = 150_000;
const SERVICE_SECRET = 'dbt-crash-secret-5d1e';
const STACK_SECRET = 'dbt-crash-stack-secret-a7';
let api: ApiClient;
let instance = '';

function taskOf(role: 'serve' | 'scratch'): string {
  return docker('ps', '-q', '--filter', `label=io.berth.instance=${instance}`, '--filter', `label=io.berth.role=${role}`, '--filter', 'label=io.berth.project=dbt-crash');
}

function sql(query: string, database = 'jobs'): string {
  return docker('exec', taskOf('serve'), 'psql', '-U', 'postgres', '-d', database, '-Atc', query);
}

/** The names of the database and of any restore's databases beside it. */
function databases(): string {
  return sql("SELECT string_agg(datname, ',' ORDER BY datname) FROM pg_database WHERE datname LIKE 'jobs%'", 'postgres');
}

function processesIn(container: string): string {
  return docker('top', container, '-o', 'pid,args');
}

async function ready(): Promise<void> {
  await waitFor('jobs ready', async () => (await api.call('GET', '/databases/jobs')).json?.status === 'ready', 120_000, 200);
}

function filesUnder(dir: string): string[] {
  let out: string[] = [];
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return [];
  }
  for (const entry of entries) {
    const path = join(dir, entry);
    out = statSync(path).isDirectory() ? [...out, ...filesUnder(path)] : [...out, relative(join(dataDir, 'backups'), path)];
  }
  return out;
}

/** Restarts the server, armed to kill itself at `fault` (or not at all). */
async function restart(fault: string | null): Promise<void> {
  server.extraEnv = fault === null ? {} : { BERTH_FAULT_POINT: fault };
  await server.start();
}

beforeAll(async () => {
  ensureDemoImage();
  for (const [script, tag] of [['build-postgres-image.sh', 'postgres:15'], ['build-redis-image.sh', 'redis:7']] as const) {
    try {
      docker('image', 'inspect', tag);
    } catch {
      execFileSync('bash', [join(ROOT, 'scripts', script), tag], { stdio: 'pipe' });
    }
  }
  await server.start();
  api = await server.api.project('dbt-crash');
  expect((await api.call('POST', '/databases', { name: 'jobs', engine: 'postgres' })).status).toBe(201);
  await ready();
  const first = docker('ps', '-q', '--filter', 'label=io.berth.project=dbt-crash', '--filter', 'label=io.berth.role=serve', '--filter', 'label=io.berth.managed=true');
  instance = docker('inspect', '-f', '{{index .Config.Labels "io.berth.instance"}}', first);
  // Large enough that a dump, a restore and a verification each take a while.
  sql(`CREATE TABLE big AS SELECT g AS id, md5(g::text) AS h, repeat('x', 100) AS pad FROM generate_series(1, ${ROWS}) g; CREATE INDEX big_h ON big(h)`);
});

afterAll(async () => {
  await server.destroy(instance || null);
});

describe('managed databases across kill -9 of the server', () => {
  it('keeps the database, its task and its data through a kill -9, serving while the server is down', async () => {
    const task = taskOf('serve');
    await server.stop('SIGKILL');
    sql('CREATE TABLE while_down(n int); INSERT INTO while_down VALUES (1)');
    await restart(null);
    await ready();
    expect(taskOf('serve')).toBe(task);
    expect(sql('SELECT (SELECT count(*) FROM big) || \',\' || (SELECT count(*) FROM while_down)')).toBe(`${ROWS},1`);
  });

  it('cuts a dump off when the server dies under it, so no client takes it for whole; pg_dump goes too', async () => {
    const res = await fetch(`${api.base}/databases/jobs/dump`, { headers: { 'x-auth-token': api.token } });
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const first = await reader.read();
    expect(Buffer.from(first.value ?? []).subarray(0, 5).toString()).toBe('PGDMP');
    expect(processesIn(taskOf('serve'))).toContain('pg_dump');
    await server.stop('SIGKILL');
    await expect((async () => {
      for (;;) if ((await reader.read()).done) return 'ended as if whole';
    })()).rejects.toThrow();
    await waitFor('pg_dump to end with its connection', async () => !processesIn(taskOf('serve')).includes('pg_dump'), 30_000, 200);
    await restart(null);
    await ready();
    expect(sql('SELECT count(*) FROM big')).toBe(String(ROWS));
  });

  it('finishes a backup killed while it was written and again while it was verified; no half backup is ever listed', async () => {
    const queued = await api.call('POST', '/databases/jobs/backups');
    expect(queued.status).toBe(202);
    const backupsDir = join(dataDir, 'backups');
    await waitFor('the backup file being written', async () => filesUnder(backupsDir).some((f) => f.endsWith('.part')), 60_000, 10);
    expect((await api.call('GET', '/databases/jobs/backups')).json).toEqual([]);
    await server.stop('SIGKILL');

    // Taken again from its start; then the server dies once the backup is loaded into its scratch task.
    await restart('backup:restored');
    expect(await server.exited(120_000)).toBe('SIGKILL');
    const scratch = taskOf('scratch');
    expect(scratch).not.toBe('');
    await restart(null);
    const backup = await waitFor('the backup verified', async () => {
      const doc = (await api.call('GET', `/databases/jobs/backups/${queued.json.id}`)).json;
      return doc.status === 'verified' || doc.status === 'failed' ? doc : null;
    }, 180_000, 250);
    expect(backup).toMatchObject({ status: 'verified', verified: true, reason: null, counts: { 'public.big': ROWS, 'public.while_down': 1 } });
    // Checked in a scratch task of its own, not the one the kill left half-used; none is left.
    await waitFor('no scratch task left', async () => taskOf('scratch') === '', 30_000, 200);
    const listed = ((await api.call('GET', '/databases/jobs/backups')).json as { id: number }[]).map((b) => b.id);
    expect(listed).toEqual([queued.json.id]);
    expect(filesUnder(backupsDir)).toEqual([`dbt-crash/jobs/jobs-${queued.json.id}.dump`]);
   }, 400_000);

  it('fails a restore killed mid-upload, reloads one killed after its upload, finishes one killed before its swap, the old data serving until then', async () => {
    const dump = Buffer.from(await (await fetch(`${api.base}/databases/jobs/dump`, { headers: { 'x-auth-token': api.token } })).arrayBuffer());
    // The fault point `restore:receiving` is hit once a MiB has arrived.
    expect(dump.length).toBeGreaterThan(1.5 * 1024 * 1024);
    const upload = async () => {
      const res = await fetch(`${api.base}/databases/jobs/restore`, { method: 'POST', headers: { 'x-auth-token': api.token, 'content-type': 'application/octet-stream' }, body: new Uint8Array(dump) });
      expect(res.status).toBe(202);
      return ((await res.json()) as { id: number }).id;
    };
    /** An upload the server dies under: its restore is found through the database. */
    const uploadKilled = async () => {
      await expect(upload()).rejects.toThrow();
      expect(await server.exited(120_000)).toBe('SIGKILL');
      await restart(null);
      return (await api.call('GET', '/databases/jobs')).json.restore.id as number;
    };
    const restored = async (id: number) =>
      waitFor(`restore ${id}`, async () => {
        const doc = (await api.call('GET', `/databases/jobs/restores/${id}`)).json;
        return doc.status === 'succeeded' || doc.status === 'failed' ? doc : null;
      }, 180_000, 250);

    // Killed with a MiB of the upload loaded into the fresh database: failed, the fresh one dropped.
    sql('DELETE FROM big WHERE id > 1000');
    await server.stop('SIGTERM');
    await restart('restore:receiving');
    const cut = await uploadKilled();
    expect(await restored(cut)).toMatchObject({ status: 'failed', reason: expect.stringMatching(/the upload did not arrive whole: the server stopped/) });
    expect(sql('SELECT count(*) FROM big')).toBe('1000');
    expect(databases()).toBe('jobs');
    expect(readdirSync(join(dataDir, 'restores', 'dbt-crash', 'jobs'))).toEqual([]);

    // Killed once the upload is whole on disk, its load not finished: loaded again from the file.
    await server.stop('SIGTERM');
    await restart('restore:received');
    const first = await uploadKilled();
    expect(await restored(first)).toMatchObject({ status: 'succeeded' });
    expect(sql('SELECT count(*) FROM big')).toBe(String(ROWS));

    sql('DELETE FROM big WHERE id > 1000');
    await server.stop('SIGTERM');
    await restart('restore:loaded');
    const second = await upload();
    expect(await server.exited(120_000)).toBe('SIGKILL');
    // Loaded but not swapped in: the old data serves.
    expect(sql('SELECT count(*) FROM big')).toBe('1000');
    await restart(null);
    expect(await restored(second)).toMatchObject({ status: 'succeeded' });
    expect(sql('SELECT count(*) FROM big')).toBe(String(ROWS));
    // The old data is dropped after the restore is reported succeeded.
    await waitFor('the old data dropped', async () => databases() === 'jobs', 60_000, 100);
    expect(readdirSync(join(dataDir, 'restores', 'dbt-crash', 'jobs'))).toEqual([]);

    // Killed once the restore is reported succeeded, before the old data is dropped: the next start drops it.
    sql('DELETE FROM big WHERE id > 1000');
    await server.stop('SIGTERM');
    await restart('restore:swapped');
    const third = await upload();
    expect(await server.exited(120_000)).toBe('SIGKILL');
    expect(sql('SELECT count(*) FROM big')).toBe(String(ROWS));
    expect(databases()).toBe(`jobs,jobs-restore-${third}-old`);
    await restart(null);
    expect(await restored(third)).toMatchObject({ status: 'succeeded' });
    await waitFor('the old data dropped after the restart', async () => databases() === 'jobs', 60_000, 100);
    expect(sql('SELECT count(*) FROM big')).toBe(String(ROWS));
    expect(readdirSync(join(dataDir, 'restores', 'dbt-crash', 'jobs'))).toEqual([]);
   }, 600_000);

  it("never writes a secret to berth's own log output", async () => {
    const password = decodeURIComponent(((await api.call('GET', '/databases/jobs/url')).json.url as string).split(':')[2]?.split('@')[0] ?? '');
    await api.call('POST', '/services', { name: 'web' });
    const put = await api.call('PUT', '/services/web', {
      image: DEMO_IMAGE, 'memory-reservation': 16, 'memory-limit': 32, 'container-port': 80, environment: [], secrets: [{ name: 'API_KEY', value: SERVICE_SECRET }], databases: ['jobs'],
      command: ['sh', '-c', 'mkdir -p /www$CONTEXT_ROOT && echo ok > /www$CONTEXT_ROOT/index.html && exec httpd -f -p 80 -h /www'],
    });
    expect((await waitForDeployment(api, 'web', put.json.deployment, 90_000)).step).toBe('succeeded');
    // One that crashes, so the server logs about it too.
    await api.call('POST', '/services', { name: 'crashy' });
    await api.call('PUT', '/services/crashy', { image: DEMO_IMAGE, 'memory-reservation': 16, 'memory-limit': 32, 'container-port': 80, environment: [], secrets: [{ name: 'API_KEY', value: SERVICE_SECRET }], databases: ['jobs'], command: ['sh', '-c', 'exit 3'] });
    const stack = await api.call('PUT', '/stacks/sec', {
      compose: `services:\n  app:\n    image: ${DEMO_IMAGE}\n    command: ["sh", "-c", "cat /run/secrets/key >/dev/null && sleep 3600"]\n    secrets: [key]\nsecrets:\n  key: {file: ./key}\n`,
      attachments: { './key': STACK_SECRET },
    });
    expect(stack.status).toBe(200);
    await waitFor('the stack service running', async () => (await api.call('GET', '/stacks/sec')).json.services?.[0]?.state === 'running', 60_000, 250);
    await waitFor('the crashing service reported', async () => JSON.stringify((await api.call('GET', '/services/crashy/events')).json).includes('code 3'), 60_000, 250);
    await server.stop('SIGTERM');
    const log = server.output + readFileSync(join(dataDir, 'audit.log'), 'utf8');
    expect(log.length).toBeGreaterThan(0);
    for (const secret of [password, SERVICE_SECRET, STACK_SECRET]) expect(log).not.toContain(secret);
  });
});
