import pg from 'pg';
import { Writable } from 'node:stream';
import type { Counts } from '../domain/backup.js';
import type { DumpFormat } from '../domain/database-engines.js';
import { DumpFailedError } from '../domain/errors.js';
import type { DatabaseDriver, DatabaseTarget, DumpSource, FreshDatabaseRestore, Readiness } from '../reconciler/database-driver.js';
import type { TaskExec } from '../runtime/task-exec.js';

const CONNECT_TIMEOUT_MS = 3_000;
const USER = 'postgres';
/** Tables berth counts: ordinary tables (partitions are counted each, not through their parent), outside the system's schemas. */
const TABLES = `SELECT n.nspname AS schema, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'
  ORDER BY 1, 2`;

/**
 * PostgreSQL through the official image's tools run inside its task (pg_dump and pg_restore of
 * the server's own version, over its socket) and through node-postgres over the project's
 * network for readiness, snapshots and counts.
 */
export class PostgresDriver implements DatabaseDriver, FreshDatabaseRestore {
  readonly engine = 'postgres' as const;

  constructor(private readonly exec: TaskExec) {}

  /** Ready once it accepts a login to the database, as pg_isready would, and answers a query. */
  async probe(target: DatabaseTarget): Promise<Readiness> {
    try {
      await this.withClient(target, target.database, (client) => client.query('SELECT 1'));
      return { ready: true, description: null };
    } catch (error) {
      return { ready: false, description: (error as Error).message };
    }
  }

  /**
   * pg_dump takes its own consistent snapshot; to count rows in that same snapshot, berth opens a
   * repeatable-read transaction, exports its snapshot to pg_dump, and counts while pg_dump runs.
   */
  async dump(target: DatabaseTarget, format: DumpFormat, out: Writable, options: { count: boolean; signal?: AbortSignal }): Promise<Counts | null> {
    const command = ['pg_dump', '-U', USER, '-d', target.database, format === 'sql' ? '--format=plain' : '--format=custom'];
    if (!options.count) {
      await this.run(target, command, { stdout: out, ...(options.signal ? { signal: options.signal } : {}) }, 'pg_dump');
      return null;
    }
    return this.withClient(target, target.database, async (client) => {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const snapshot = (await client.query<{ id: string }>('SELECT pg_export_snapshot() AS id')).rows[0]?.id as string;
      const dumping = this.run(target, [...command, `--snapshot=${snapshot}`], { stdout: out, ...(options.signal ? { signal: options.signal } : {}) }, 'pg_dump');
      const [counts] = await Promise.all([countIn(client), dumping]);
      await client.query('COMMIT');
      return counts;
    });
  }

  count(target: DatabaseTarget): Promise<Counts> {
    return this.withClient(target, target.database, countIn);
  }

  async hasData(target: DatabaseTarget): Promise<boolean> {
    const rows = await this.withClient(target, target.database, async (client) => (await client.query(`SELECT count(*)::int AS n FROM (${TABLES}) t`)).rows);
    return (rows[0] as { n: number }).n > 0;
  }

  async beforeScratchStart(): Promise<void> {}

  loadScratch(target: DatabaseTarget, source: DumpSource, format: DumpFormat): Promise<void> {
    return this.load(target, target.database, source, format);
  }

  async loadFresh(target: DatabaseTarget, fresh: string, source: DumpSource, format: DumpFormat): Promise<void> {
    await this.withClient(target, 'postgres', async (client) => {
      await client.query(`DROP DATABASE IF EXISTS ${ident(fresh)} WITH (FORCE)`);
      await client.query(`CREATE DATABASE ${ident(fresh)}`);
    });
    await this.load(target, fresh, source, format);
  }

  /**
   * Closes the old database to new sessions, ends the ones it has, and renames: old → `old`,
   * fresh → its name. Each step looks at which databases exist, so a run after a crash at any
   * point finishes the same swap. The old one is not dropped here: dropping 200 MiB takes a few
   * hundred ms that the restore need not wait for (ADR 013).
   */
  async swap(target: DatabaseTarget, fresh: string, old: string): Promise<void> {
    const name = target.database;
    await this.withClient(target, 'postgres', async (client) => {
      const exists = async (db: string): Promise<boolean> => (await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [db])).rowCount === 1;
      if (await exists(fresh)) {
        if (await exists(name)) {
          await client.query(`ALTER DATABASE ${ident(name)} WITH ALLOW_CONNECTIONS false`);
          await client.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [name]);
          await client.query(`ALTER DATABASE ${ident(name)} RENAME TO ${ident(old)}`);
        }
        await client.query(`ALTER DATABASE ${ident(fresh)} RENAME TO ${ident(name)}`);
      }
    });
  }

  async drop(target: DatabaseTarget, database: string): Promise<void> {
    await this.withClient(target, 'postgres', (client) => client.query(`DROP DATABASE IF EXISTS ${ident(database)} WITH (FORCE)`));
  }

  private async load(target: DatabaseTarget, database: string, source: DumpSource, format: DumpFormat): Promise<void> {
    const command =
      format === 'sql'
        ? ['psql', '-U', USER, '-d', database, '-v', 'ON_ERROR_STOP=1', '-q']
        : ['pg_restore', '-U', USER, '-d', database, '--no-owner', '--no-privileges', '--exit-on-error'];
    await this.run(target, command, { stdin: source.open(), stdout: discard() }, format === 'sql' ? 'psql' : 'pg_restore');
  }

  private async run(target: DatabaseTarget, command: string[], io: { stdin?: NodeJS.ReadableStream; stdout?: Writable; signal?: AbortSignal }, tool: string): Promise<void> {
    const result = await this.exec.run(target.taskId, { command, ...(io as object) });
    if (result.exitCode !== 0) throw new DumpFailedError(`${tool} exited with code ${result.exitCode}: ${result.stderr.trim().split('\n').slice(-3).join(' | ') || 'no message'}`);
  }

  private async withClient<T>(target: DatabaseTarget, database: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
    const client = new pg.Client({ host: target.address, port: target.port, user: USER, password: target.password, database, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
    // A connection that breaks reports through the query it breaks; the event must have a listener or it ends the process.
    client.on('error', () => {});
    await client.connect();
    try {
      return await work(client);
    } finally {
      await client.end();
    }
  }
}

async function countIn(client: pg.Client): Promise<Counts> {
  const tables = (await client.query<{ schema: string; name: string }>(TABLES)).rows;
  const counts: Record<string, number> = {};
  for (const t of tables) {
    const { rows } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${ident(t.schema)}.${ident(t.name)}`);
    counts[`${t.schema}.${t.name}`] = Number(rows[0]?.n ?? 0);
  }
  return counts;
}

function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

function discard(): Writable {
  return new Writable({ write: (_chunk, _encoding, done) => done() });
}
