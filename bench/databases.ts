import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BenchServer } from './lib/bench-server.js';
import type { Api } from './lib/api.js';
import type { BenchContext } from './lib/context.js';
import { docker } from './lib/docker.js';
import { run, timed } from './lib/process.js';
import { paired } from './lib/stats.js';
import { sleep } from '../src/process/wait.js';

// Ports 17740-17743 (17740-17759 are this bench's).
const BASE_PORT = 17740;
const REPO = join(import.meta.dirname, '..');
/** The image the docker tests build from Debian's postgresql-15, with the official image's contract. */
const IMAGE = 'postgres:15';
const NAME = 'data';
const TARGET_BYTES = 200 * 1024 * 1024;
const BATCH_ROWS = 250_000;
const STEP_TIMEOUT_MS = 600_000;
const BACKUP_TIMEOUT_MS = 600_000;

export interface DatabasesOptions {
  readonly runs: number;
  readonly backups: number;
}

/**
 * A managed PostgreSQL database filled to 200 MB. Each round dumps it with `berth db dump -o FILE`
 * (through the API, to a file fsynced and renamed into place) and with `pg_dump` run by hand with
 * `docker exec` in the same task, shell-redirected to a file; then restores each dump, with
 * `berth db restore --yes` (upload, load into a fresh database beside the serving one, swap; the
 * CLI returns when the restore has succeeded) and by hand with `createdb` and `pg_restore` into a
 * fresh database (what berth does, less the swap). Both dumps are custom format, the same
 * pg_dump and pg_restore flags. Rounds alternate which side goes first. Then backups, each
 * verified by berth: restored into a scratch task and every table's rows counted.
 */
export async function runDatabases(ctx: BenchContext, options: DatabasesOptions): Promise<void> {
  await ctx.scoped(async (scope) => {
    await ensureImage();
    ctx.log('databases: starting a server');
    const server = await BenchServer.start({ basePort: BASE_PORT, extra: { memoryCapacity: '4096' } });
    // Released in reverse: the server with its containers, then the volumes they held.
    scope.defer('databases volumes', () => removeVolumes(server.instance));
    scope.defer('databases server', () => server.destroy());
    const api = await server.admin.project('bench-db');
    const created = await api.call('POST', '/databases', { name: NAME, engine: 'postgres', 'memory-reservation': 512, 'memory-limit': 2048 });
    if (created.status !== 201) throw new Error(`POST /databases: ${created.status} ${JSON.stringify(created.json)}`);
    await waitReady(api);
    const task = await docker(['ps', '-q', '--filter', `label=io.berth.instance=${server.instance}`, '--filter', 'label=io.berth.role=serve', '--filter', 'label=io.berth.project=bench-db']);
    if (!task || task.includes('\n')) throw new Error(`expected one database task, found '${task}'`);
    const size = await fill(ctx, task);
    const rows = Number(await psql(task, NAME, 'SELECT count(*) FROM events'));

    const dir = mkdtempSync(join(tmpdir(), 'berth-bench-db-'));
    scope.defer('dump files', () => rmSync(dir, { recursive: true, force: true }));
    const berthDump = join(dir, 'berth.dump');
    const handDump = join(dir, 'hand.dump');
    const env = { ...process.env, BERTH_URL: server.admin.base, BERTH_TOKEN: api.token, NO_COLOR: '1' };
    const berth = (...args: string[]) => timed(process.execPath, [join(REPO, 'bin/berth.js'), 'db', ...args], env, STEP_TIMEOUT_MS);
    const dumpByHand = () => timed('sh', ['-c', `docker exec ${task} pg_dump -U postgres -d ${NAME} --format=custom > ${handDump}`], process.env, STEP_TIMEOUT_MS);
    const restoreByHand = () =>
      timed('sh', ['-c', `docker exec ${task} createdb -U postgres hand && docker exec -i ${task} pg_restore -U postgres -d hand --no-owner --no-privileges --exit-on-error < ${handDump}`], process.env, STEP_TIMEOUT_MS);

    const dumps = { berth: [] as number[], hand: [] as number[] };
    const restores = { berth: [] as number[], hand: [] as number[] };
    const dumpBytes = { berth: [] as number[], hand: [] as number[] };
    for (let round = 1; round <= options.runs; round++) {
      const handFirst = round % 2 === 0;
      const pair = async (ours: () => Promise<number>, theirs: () => Promise<number>): Promise<[number, number]> => {
        if (handFirst) {
          const h = await theirs();
          return [await ours(), h];
        }
        const b = await ours();
        return [b, await theirs()];
      };
      const [bd, hd] = await pair(() => berth('dump', NAME, '-o', berthDump), dumpByHand);
      dumpBytes.berth.push(statSync(berthDump).size);
      dumpBytes.hand.push(statSync(handDump).size);
      const [br, hr] = await pair(() => berth('restore', NAME, berthDump, '--yes'), restoreByHand);
      const restored = Number(await psql(task, NAME, 'SELECT count(*) FROM events'));
      const byHand = Number(await psql(task, 'hand', 'SELECT count(*) FROM events'));
      if (restored !== rows || byHand !== rows) throw new Error(`round ${round}: ${restored} rows restored by berth, ${byHand} by hand, not ${rows}`);
      await psql(task, 'postgres', 'DROP DATABASE hand');
      ctx.log(
        `databases: round ${round}${handFirst ? ' (by hand first)' : ''}: dump berth ${bd.toFixed(0)} ms / pg_dump ${hd.toFixed(0)} ms, ` +
          `restore berth ${br.toFixed(0)} ms / pg_restore ${hr.toFixed(0)} ms; dumps ${mib(statSync(berthDump).size)} / ${mib(statSync(handDump).size)} MiB`,
      );
      dumps.berth.push(bd);
      dumps.hand.push(hd);
      restores.berth.push(br);
      restores.hand.push(hr);
    }
    const about = `a ${mib(size)} MiB database (${rows} rows, one table and its primary key)`;
    ctx.record({
      bench: 'databases',
      name: `berth db dump -o FILE of ${about}`,
      unit: 'ms',
      values: dumps.berth,
      baseline: dumps.hand,
      comparisons: paired(dumps.berth, dumps.hand, (x, y) => x / y),
      goal: { kind: 'ratio-max', limit: 1.1 },
      note: 'baseline: docker exec TASK pg_dump --format=custom > FILE in the same run; berth streams it through the API and fsyncs the file before renaming it into place',
    });
    ctx.record({
      bench: 'databases',
      name: 'berth db restore FILE --yes of that dump',
      unit: 'ms',
      values: restores.berth,
      baseline: restores.hand,
      comparisons: paired(restores.berth, restores.hand, (x, y) => x / y),
      goal: { kind: 'ratio-max', limit: 1.1 },
      note: 'baseline: docker exec createdb, then docker exec -i pg_restore into it < FILE; berth uploads the file, loads a fresh database, swaps it in, and the CLI polls until done',
    });

    const backups = await takeBackups(ctx, api, options.backups);
    const verified = backups.filter((b) => b.status === 'verified').length;
    ctx.record({
      bench: 'databases',
      name: 'backups verified (restored into a scratch task, every table counted)',
      unit: '',
      values: [verified],
      baseline: [backups.length],
      comparisons: [verified / backups.length],
      goal: { kind: 'ratio-min', limit: 1, label: 'all' },
      note: 'value: verified; baseline: taken',
    });
    const dumpSeconds = backups.map((b) => b.dump_seconds ?? Number.NaN);
    const verifySeconds = backups.map((b) => b.verify_seconds ?? Number.NaN);
    ctx.record({
      bench: 'databases',
      name: "a backup's verification time, as a share of its dump time",
      unit: 's',
      values: verifySeconds,
      baseline: dumpSeconds,
      comparisons: paired(verifySeconds, dumpSeconds, (x, y) => x / y),
      goal: { kind: 'info' },
      note: "verification: loading the backup into a scratch task that accepts connections, then counting every table's rows (starting that task is not in it); dump: pg_dump with the counts taken in its snapshot",
    });
    ctx.record({
      bench: 'databases',
      name: 'a backup from queued to verified',
      unit: 's',
      values: backups.map((b) => (Date.parse(b.finished_at ?? '') - Date.parse(b.created_at)) / 1000),
      goal: { kind: 'info' },
      note: 'dump, checksum check, scratch task start, load and count',
    });
    ctx.raw.databases = { size, rows, dumps, restores, dumpBytes, backups };
  });
}

async function ensureImage(): Promise<void> {
  try {
    await docker(['image', 'inspect', IMAGE]);
  } catch {
    await run('bash', [join(REPO, 'scripts/build-postgres-image.sh'), IMAGE], { timeoutMs: 300_000 });
  }
}

async function waitReady(api: Api): Promise<void> {
  const deadline = Date.now() + 120_000;
  while ((await api.call('GET', `/databases/${NAME}`)).json?.status !== 'ready') {
    if (Date.now() > deadline) throw new Error(`database ${NAME} was not ready within 120 s`);
    await sleep(200);
  }
}

/** Rows in batches until the database is 200 MB; answers its size in bytes. */
async function fill(ctx: BenchContext, task: string): Promise<number> {
  await psql(task, NAME, 'CREATE TABLE events (id bigint PRIMARY KEY, account int NOT NULL, kind text NOT NULL, payload text NOT NULL, created timestamptz NOT NULL)');
  let size = 0;
  for (let from = 1; size < TARGET_BYTES; from += BATCH_ROWS) {
    await psql(
      task,
      NAME,
      `INSERT INTO events SELECT g, (random() * 10000)::int, (ARRAY['order','payment','refund','login'])[1 + g % 4], md5(random()::text) || md5(random()::text), now() - g * interval '1 second'
       FROM generate_series(${from}, ${from + BATCH_ROWS - 1}) g`,
    );
    size = Number(await psql(task, NAME, `SELECT pg_database_size('${NAME}')`));
  }
  await psql(task, NAME, 'VACUUM ANALYZE events');
  size = Number(await psql(task, NAME, `SELECT pg_database_size('${NAME}')`));
  ctx.log(`databases: filled to ${mib(size)} MiB`);
  return size;
}

interface BackupDoc {
  readonly id: number;
  readonly status: string;
  readonly reason: string | null;
  readonly dump_seconds: number | null;
  readonly verify_seconds: number | null;
  readonly created_at: string;
  readonly finished_at: string | null;
}

/** `count` backups, one after another, each waited for until berth has verified (or failed) it. */
async function takeBackups(ctx: BenchContext, api: Api, count: number): Promise<BackupDoc[]> {
  const done: BackupDoc[] = [];
  for (let i = 0; i < count; i++) {
    const queued = await api.call('POST', `/databases/${NAME}/backups`);
    if (queued.status !== 202) throw new Error(`POST backups: ${queued.status} ${JSON.stringify(queued.json)}`);
    const deadline = Date.now() + BACKUP_TIMEOUT_MS;
    for (;;) {
      const doc = (await api.call('GET', `/databases/${NAME}/backups/${queued.json.id}`)).json as BackupDoc;
      if (doc.status === 'verified' || doc.status === 'failed') {
        ctx.log(`databases: backup ${doc.id} ${doc.status}${doc.reason ? ` (${doc.reason})` : ''}: dump ${doc.dump_seconds} s, verification ${doc.verify_seconds} s`);
        done.push(doc);
        break;
      }
      if (Date.now() > deadline) throw new Error(`backup ${queued.json.id} was still ${doc.status} after ${BACKUP_TIMEOUT_MS} ms`);
      await sleep(250);
    }
  }
  return done;
}

function psql(task: string, database: string, query: string): Promise<string> {
  return docker(['exec', task, 'psql', '-U', 'postgres', '-d', database, '-v', 'ON_ERROR_STOP=1', '-Atc', query], STEP_TIMEOUT_MS);
}

/** A server's databases keep their volumes; the bench's go with it. */
async function removeVolumes(instance: string): Promise<void> {
  if (!instance) return;
  const volumes = await docker(['volume', 'ls', '-q', '--filter', `label=io.berth.instance=${instance}`]);
  if (volumes) await docker(['volume', 'rm', ...volumes.split('\n')]);
}

function mib(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(0);
}
