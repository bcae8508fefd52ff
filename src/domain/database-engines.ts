/**
 * What berth knows of each engine: the official image's contract (variables, data path, port,
 * stop signal), how services connect, and which files are its dumps. Pure data and functions;
 * the engines' protocols are spoken in src/databases.
 */
export type DatabaseEngine = 'postgres' | 'redis';

export type DumpFormat = 'custom' | 'sql' | 'rdb';

export interface EngineProfile {
  readonly engine: DatabaseEngine;
  /** The image of a version (the engine's default version for null). */
  image(version: string | null): string;
  readonly port: number;
  /** Where the official image keeps its data: the volume goes there. */
  readonly dataPath: string;
  /** The user services connect as. */
  readonly user: string | null;
  /** The signal that stops it cleanly and soon (PostgreSQL's fast shutdown; Redis saves on SIGTERM). */
  readonly stopSignal: 'SIGINT' | 'SIGTERM';
  readonly memory: { readonly reservation: number; readonly limit: number };
  readonly formats: readonly DumpFormat[];
  /** The environment and command of its task, as the official image takes them. */
  task(name: string, password: string): { readonly env: readonly string[]; readonly command: readonly string[] | null };
  /** What `--db NAME` gives a service: the URL and the engine's own variables. */
  serviceEnv(host: string, name: string, password: string): readonly { readonly name: string; readonly value: string }[];
}

const postgres: EngineProfile = {
  engine: 'postgres',
  image: (version) => `postgres:${version ?? '15'}`,
  port: 5432,
  dataPath: '/var/lib/postgresql/data',
  user: 'postgres',
  stopSignal: 'SIGINT',
  memory: { reservation: 128, limit: 512 },
  formats: ['custom', 'sql'],
  task: (name, password) => ({ env: [`POSTGRES_PASSWORD=${password}`, 'POSTGRES_USER=postgres', `POSTGRES_DB=${name}`], command: null }),
  serviceEnv: (host, name, password) => [
    { name: 'DATABASE_URL', value: `postgres://postgres:${encodeURIComponent(password)}@${host}:5432/${encodeURIComponent(name)}` },
    { name: 'PGHOST', value: host },
    { name: 'PGPORT', value: '5432' },
    { name: 'PGUSER', value: 'postgres' },
    { name: 'PGPASSWORD', value: password },
    { name: 'PGDATABASE', value: name },
  ],
};

const redis: EngineProfile = {
  engine: 'redis',
  image: (version) => `redis:${version ?? '7'}`,
  port: 6379,
  dataPath: '/data',
  user: null,
  stopSignal: 'SIGTERM',
  memory: { reservation: 32, limit: 256 },
  formats: ['rdb'],
  // The official image takes Redis's options as arguments; --save keeps its own snapshot current.
  task: (_name, password) => ({ env: [], command: ['redis-server', '--requirepass', password, '--save', '60', '1'] }),
  serviceEnv: (host, _name, password) => [
    { name: 'REDIS_URL', value: `redis://:${encodeURIComponent(password)}@${host}:6379/0` },
    { name: 'REDIS_HOST', value: host },
    { name: 'REDIS_PORT', value: '6379' },
    { name: 'REDIS_PASSWORD', value: password },
  ],
};

export const ENGINES: Readonly<Record<DatabaseEngine, EngineProfile>> = { postgres, redis };

export function isEngine(value: string): value is DatabaseEngine {
  return value === 'postgres' || value === 'redis';
}

/** The URL `berth db url` prints: as services reach it, by its name on the project's network. */
export function connectionUrl(engine: DatabaseEngine, name: string, password: string): string {
  return ENGINES[engine].serviceEnv(name, name, password)[0]?.value ?? '';
}

export function fileExtension(format: DumpFormat): string {
  return format === 'custom' ? 'dump' : format;
}

/**
 * Which engine's dump a file is, from its first bytes: pg_dump's custom format starts with
 * "PGDMP", its plain SQL with its "-- PostgreSQL database dump" header, an RDB file with
 * "REDIS" and four digits. Null for anything else.
 */
export function identifyDump(head: Buffer): { readonly engine: DatabaseEngine; readonly format: DumpFormat } | null {
  if (head.subarray(0, 5).toString('latin1') === 'PGDMP') return { engine: 'postgres', format: 'custom' };
  if (/^REDIS\d{4}/.test(head.subarray(0, 9).toString('latin1'))) return { engine: 'redis', format: 'rdb' };
  const text = head.subarray(0, 256).toString('utf8').replace(/^\uFEFF/, '');
  if (/^--\s*\n--\s*PostgreSQL database dump/.test(text)) return { engine: 'postgres', format: 'sql' };
  return null;
}

/** Bytes `identifyDump` needs to decide. */
export const DUMP_HEAD_BYTES = 256;
