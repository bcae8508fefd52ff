import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DatabaseAccess } from '../../src/api/ports.js';
import { DumpFailedError } from '../../src/domain/errors.js';
import { apiHarness, createProject, type Harness } from '../support/api-harness.js';
import { fakeTerminal, runIn, type Run } from '../support/cli-harness.js';

const DUMP = Buffer.concat([Buffer.from('PGDMP'), Buffer.alloc(300_000, 7)]);

let h: Harness;
let url: string;
let token: string;
let dir: string;
/** What the fake database holds, and what uploads it received. */
let holdsData: boolean;
let failDumpAfter: number | null;
const uploads: Buffer[] = [];

const access: Partial<DatabaseAccess> = {
  observe: async () => ({ task: 'pg-db-1', state: 'running', address: '10.0.0.2', ready: true }),
  hasData: async () => holdsData,
  async dump(_db, _format, out: Writable) {
    for (let at = 0; at < DUMP.length; at += 65_536) {
      if (failDumpAfter !== null && at >= failDumpAfter) throw new DumpFailedError('pg_dump exited with code 1: connection lost');
      if (!out.write(DUMP.subarray(at, at + 65_536))) await new Promise((resolve) => out.once('drain', resolve));
    }
    out.end();
  },
  async receive(_db, body: Readable, _format, _expected, begin) {
    const chunks: Buffer[] = [];
    for await (const chunk of body) chunks.push(chunk as Buffer);
    uploads.push(Buffer.concat(chunks));
    return begin(`upload-${uploads.length}.dump`, Buffer.concat(chunks).length);
  },
};

beforeEach(async () => {
  holdsData = false;
  failDumpAfter = null;
  uploads.length = 0;
  h = await apiHarness({ databases: access });
  token = await createProject(h.app, 'dbt-cli');
  url = await h.app.listen({ port: 0, host: '127.0.0.1' });
  dir = mkdtempSync(join(tmpdir(), 'berth-cli-db-'));
});
afterEach(async () => {
  await h.close();
  rmSync(dir, { recursive: true, force: true });
});

function terminal(argv: string[], tty = false) {
  return fakeTerminal(argv, { XDG_CONFIG_HOME: dir, BERTH_URL: url, BERTH_TOKEN: token }, tty);
}

function berth(...argv: string[]): Promise<Run> {
  return runIn(terminal(argv));
}

function dbId(name: string): number {
  return h.store.databases.find('dbt-cli', name)?.id ?? 0;
}

/** Stands in for the reconciler: `act` once the store has what `ready` looks for. */
async function when(ready: () => boolean, act: () => void): Promise<void> {
  for (let i = 0; i < 2000 && !ready(); i++) await sleep(5);
  if (!ready()) throw new Error('what the command should have made never appeared');
  act();
}

describe('berth db create, ls, status, url, rm', () => {
  it('creates a database, waits until it is ready, and lists and shows it', async () => {
    const made = berth('db', 'create', 'pg', '--engine', 'postgres', '--memory-limit', '600', '--backup-schedule', '0 */6 * * *', '--keep', '3');
    await when(() => dbId('pg') > 0, () => h.store.databases.switched(dbId('pg')));
    const run = await made;
    expect(run.code, run.err).toBe(0);
    expect(run.out).toMatch(/✓ pg is ready \(postgres:15\) at pg:5432 on the project's network/);

    const ls = await berth('db', 'ls');
    expect(ls.out).toMatch(/^NAME\s+ENGINE\s+STATUS\s+IMAGE\s+ADDRESS\npg\s+postgres\s+ready\s+postgres:15\s+pg:5432\n$/);
    expect(JSON.parse((await berth('db', 'ls', '--json')).out)).toEqual([expect.objectContaining({ name: 'pg', status: 'ready' })]);
    const status = await berth('db', 'status', 'pg');
    expect(status.out).toMatch(/memory\s+128 MiB reserved, 600 MiB limit/);
    expect(status.out).toMatch(/backups\s+0 \*\/6 \* \* \* \(UTC\), keep 3/);
    expect((await berth('db', 'url', 'pg')).out).toMatch(/^postgres:\/\/postgres:[^@]+@pg:5432\/pg\n$/);
  });

  it('asks before rm, keeps the data unless --delete-data, and refuses without a terminal or --yes', async () => {
    await berth('db', 'create', 'pg', '--engine', 'postgres', '--detach');
    const refused = await berth('db', 'rm', 'pg');
    expect(refused).toMatchObject({ code: 2, err: "berth: BERTH_USAGE: Not removing 'pg' without --yes: nobody at a terminal can confirm\n" });
    const t = terminal(['db', 'rm', 'pg'], true);
    const asked = runIn(t);
    await when(() => t.stderr.text.includes('[y/N]'), () => t.stdin.write('n\n'));
    expect((await asked).code).toBe(1);
    expect(h.store.databases.find('dbt-cli', 'pg')?.status).toBe('ACTIVE');

    expect((await berth('db', 'rm', 'pg', '--yes')).out).toMatch(/its data is kept: 'berth db create pg --engine postgres' brings it back/);
    expect(h.store.databases.find('dbt-cli', 'pg')).toMatchObject({ status: 'DELETING', deleteData: false });
  });

  it('refuses bad flags before sending anything', async () => {
    expect((await berth('db', 'create', 'pg', '--engine', 'mysql')).code).toBe(2);
    expect((await berth('db', 'create', 'pg')).code).toBe(2);
    expect((await berth('db', 'create', 'pg', '--engine', 'postgres', '--image', 'x', '--version', '16')).code).toBe(2);
    expect((await berth('db', 'restore', 'pg')).err).toMatch(/Give a dump FILE or --backup ID/);
    expect(h.store.databases.listAll()).toEqual([]);
  });
});

describe('berth db dump and restore', () => {
  it('dumps to a file with a progress line, and to stdout', async () => {
    await berth('db', 'create', 'pg', '--engine', 'postgres', '--detach');
    const file = join(dir, 'pg.dump');
    const run = await berth('db', 'dump', 'pg', '-o', file);
    expect(run.code, run.err).toBe(0);
    expect(readFileSync(file).equals(DUMP)).toBe(true);
    expect(run.err).toMatch(/^pg: dumped 293\.0 KiB in \d+\.\d s \([\d.]+ [KMG]?i?B\/s\) to .*pg\.dump \(custom\)\n$/m);
    const piped = await berth('db', 'dump', 'pg');
    expect(piped.out.startsWith('PGDMP')).toBe(true);
    expect(piped.out.length).toBe(DUMP.length);
  });

  it('leaves no file when the dump breaks off, and says why', async () => {
    await berth('db', 'create', 'pg', '--engine', 'postgres', '--detach');
    failDumpAfter = 100_000;
    const run = await berth('db', 'dump', 'pg', '-o', join(dir, 'broken.dump'));
    expect(run.code).toBe(1);
    expect(run.err).toMatch(/^berth: BERTH_TRANSFER_BROKEN: The dump of 'pg' broke off after \d+ bytes/m);
    expect(readdirSync(dir).filter((f) => f.includes('broken'))).toEqual([]);
  });

  it('uploads a dump, asking first when the database holds data, and waits for the restore', async () => {
    await berth('db', 'create', 'pg', '--engine', 'postgres', '--detach');
    h.store.databases.switched(dbId('pg'));
    const file = join(dir, 'pg.dump');
    writeFileSync(file, DUMP);
    holdsData = true;
    expect((await berth('db', 'restore', 'pg', file)).err).toMatch(/'pg' holds data: not restoring over it without --yes/);
    expect(uploads).toEqual([]);

    const restoring = berth('db', 'restore', 'pg', file, '--yes');
    await when(() => h.store.backups.restoresOf(dbId('pg'), 1).length > 0, () => h.store.backups.setRestoreStatus(h.store.backups.restoresOf(dbId('pg'), 1)[0]?.id ?? 0, 'succeeded'));
    const run = await restoring;
    expect(run.code, run.err).toBe(0);
    expect(uploads[0]?.equals(DUMP)).toBe(true);
    expect(run.err).toMatch(/pg: uploaded 293\.0 KiB in [\d.]+ s .* from .*pg\.dump/);
    expect(run.out).toMatch(/✓ restore \d+ succeeded: pg serves the restored data/);

    const failing = berth('db', 'restore', 'pg', file, '--yes');
    await when(() => h.store.backups.restoresOf(dbId('pg'), 1)[0]?.status === 'queued', () => h.store.backups.setRestoreStatus(h.store.backups.restoresOf(dbId('pg'), 1)[0]?.id ?? 0, 'failed', 'pg_restore exited with code 1'));
    expect(await failing).toMatchObject({ code: 1, err: expect.stringMatching(/BERTH_RESTORE_FAILED: restore \d+ failed: pg_restore exited with code 1; the old data still serves/) });
  });

  it('refuses a file that is not a dump, with the server’s reason', async () => {
    await berth('db', 'create', 'pg', '--engine', 'postgres', '--detach');
    const file = join(dir, 'notes.txt');
    writeFileSync(file, 'not a dump at all');
    const run = await berth('db', 'restore', 'pg', file);
    expect(run).toMatchObject({ code: 1, err: expect.stringMatching(/^berth: BERTH_DUMP_REFUSED: That file is not a postgres dump/m) });
  });
});

describe('berth db backup and backups', () => {
  it('takes a backup, waits for its verdict, and lists backups with it', async () => {
    await berth('db', 'create', 'pg', '--engine', 'postgres', '--detach');
    const taking = berth('db', 'backup', 'pg');
    await when(() => h.store.backups.ofDatabase(dbId('pg')).length > 0, () => {
      const id = h.store.backups.ofDatabase(dbId('pg'))[0]?.id ?? 0;
      h.store.backups.taken(id, { file: 'pg/pg-1.dump', size: 2048, sha256: 'ab'.repeat(32), counts: { 'public.items': 500 }, dumpMs: 1200 });
      h.store.backups.finish(id, { status: 'verified', reason: null, verifyMs: 800 });
    });
    const run = await taking;
    expect(run.code, run.err).toBe(0);
    expect(run.out).toMatch(/✓ backup \d+ verified: 2\.0 KiB, 1 tables, 500 rows; dump 1\.2 s, verification 0\.8 s/);
    const list = await berth('db', 'backups', 'pg');
    expect(list.out).toMatch(/^ID\s+VERDICT\s+TRIGGER\s+SIZE\s+DUMP\s+VERIFY\s+CREATED\s+REASON\n\d+\s+verified\s+manual\s+2\.0 KiB\s+1\.2s\s+0\.8s\s+\S+ \S+\n$/);
    expect(JSON.parse((await berth('db', 'backups', 'pg', '--json')).out)[0]).toMatchObject({ verified: true, counts: { 'public.items': 500 } });
  });

  it('exits 1 when the backup fails verification', async () => {
    await berth('db', 'create', 'pg', '--engine', 'postgres', '--detach');
    const taking = berth('db', 'backup', 'pg');
    await when(() => h.store.backups.ofDatabase(dbId('pg')).length > 0, () => {
      h.store.backups.finish(h.store.backups.ofDatabase(dbId('pg'))[0]?.id ?? 0, { status: 'failed', reason: 'restored, but its counts differ', verifyMs: 10 });
    });
    expect(await taking).toMatchObject({ code: 1, err: expect.stringMatching(/BERTH_BACKUP_FAILED: backup \d+ failed: restored, but its counts differ/) });
  });
});
