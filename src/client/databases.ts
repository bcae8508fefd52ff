import type { Static } from '@sinclair/typebox';
import type { BackupDoc, CreateDatabaseBody, DatabaseDoc, DatabaseSummaryDoc, RestoreDoc, UpdateDatabaseBody } from '../api/database-schemas.js';
import { BerthResponseError, BerthTimeoutError, BerthTransferBrokenError } from './errors.js';
import { pause } from './pause.js';

export type DatabaseInput = Static<typeof CreateDatabaseBody>;
export type DatabaseChange = Static<typeof UpdateDatabaseBody>;
export type DatabaseSummary = Static<typeof DatabaseSummaryDoc>;
export type DatabaseStatus = Static<typeof DatabaseDoc>;
export type Backup = Static<typeof BackupDoc>;
export type Restore = Static<typeof RestoreDoc>;
export type DumpFormat = 'custom' | 'sql' | 'rdb';

/** One JSON request to the API, as the client makes every other. */
export type JsonCaller = <T>(
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
  path: string,
  options: { body?: unknown; query?: Record<string, string | undefined>; signal?: AbortSignal },
) => Promise<T>;

export interface TransferOptions {
  readonly query?: Record<string, string | undefined>;
  /** Sent as `application/octet-stream`. */
  readonly body?: AsyncIterable<Uint8Array>;
  readonly signal?: AbortSignal;
  /** The longest no byte may move either way. */
  readonly idleMs: number;
}

export interface Transfer {
  readonly headers: Headers;
  readonly body: AsyncIterable<Uint8Array>;
}

/** A request whose body or answer is a byte stream. */
export type TransferCaller = (method: 'GET' | 'POST', path: string, options: TransferOptions) => Promise<Transfer>;

export interface WaitForOptions {
  readonly signal?: AbortSignal;
  /** Default 2 hours: a large database's backup or restore takes a while. */
  readonly timeoutMs?: number;
  /** Default: 100 ms for the first minute, then 500 ms. */
  readonly pollIntervalMs?: number;
  /** Told each status once, as it changes. */
  readonly onStatus?: (status: string) => void;
}

/** A dump or restore gives up after this long with no byte moving (a Redis snapshot of a large set may be slow to start). */
const IDLE_MS = 5 * 60_000;
const DEFAULT_WAIT_MS = 2 * 60 * 60_000;
const DEFAULT_POLL_MS = 500;
/**
 * The first minute of a wait polls every 100 ms: a restore of a few hundred MB ends within it,
 * and a 500 ms poll added 0–500 ms to it (ADR 013). Longer waits fall back to DEFAULT_POLL_MS,
 * so a two-hour wait sends no more than about 15,000 requests.
 */
const FAST_POLL_MS = 100;
const FAST_POLL_FOR_MS = 60_000;

/** Managed databases: their lifecycle, dumps and restores streamed through the API, and verified backups. */
export class DatabaseApi {
  constructor(
    private readonly call: JsonCaller,
    private readonly transfer: TransferCaller,
  ) {}

  list(options: { signal?: AbortSignal } = {}): Promise<DatabaseSummary[]> {
    return this.call('GET', '/databases', signalOf(options));
  }

  create(input: DatabaseInput, options: { signal?: AbortSignal } = {}): Promise<DatabaseSummary> {
    return this.call('POST', '/databases', { body: input, ...signalOf(options) });
  }

  get(name: string, options: { signal?: AbortSignal } = {}): Promise<DatabaseStatus> {
    return this.call('GET', dbPath(name), signalOf(options));
  }

  /** A new image or memory is a stop-first replacement; backup settings change at once. */
  update(name: string, change: DatabaseChange, options: { signal?: AbortSignal } = {}): Promise<DatabaseSummary> {
    return this.call('PATCH', dbPath(name), { body: change, ...signalOf(options) });
  }

  /** Stops it; its volume, password and backups stay unless `deleteData`. */
  remove(name: string, options: { deleteData?: boolean; signal?: AbortSignal } = {}): Promise<DatabaseSummary> {
    return this.call('DELETE', dbPath(name), { query: { delete_data: options.deleteData ? 'true' : undefined }, ...signalOf(options) });
  }

  /** The connection URL, password included. */
  async url(name: string, options: { signal?: AbortSignal } = {}): Promise<string> {
    return (await this.call<{ url: string }>('GET', `${dbPath(name)}/url`, signalOf(options))).url;
  }

  /** Whether it holds any table or key. */
  async hasData(name: string, options: { signal?: AbortSignal } = {}): Promise<boolean> {
    return (await this.call<{ has_data: boolean }>('GET', `${dbPath(name)}/data`, signalOf(options))).has_data;
  }

  /** A consistent dump, streamed; a dump the server could not finish ends with an error, never as a shorter file. */
  async dump(name: string, options: { format?: DumpFormat; signal?: AbortSignal } = {}): Promise<{ format: string; body: AsyncIterable<Uint8Array> }> {
    const answer = await this.transfer('GET', `${dbPath(name)}/dump`, { query: { format: options.format }, idleMs: IDLE_MS, ...signalOf(options) });
    return { format: answer.headers.get('x-berth-dump-format') ?? options.format ?? 'unknown', body: whole(answer.body, name, options.signal) };
  }

  /** Uploads a dump; the server refuses one that is not its engine's before touching anything. Follow it with `waitForRestore`. */
  async restore(name: string, dump: AsyncIterable<Uint8Array>, options: { signal?: AbortSignal } = {}): Promise<Restore> {
    const answer = await this.transfer('POST', `${dbPath(name)}/restore`, { body: dump, idleMs: IDLE_MS, ...signalOf(options) });
    const chunks: Uint8Array[] = [];
    for await (const chunk of answer.body) chunks.push(chunk);
    const text = Buffer.concat(chunks).toString('utf8');
    try {
      return JSON.parse(text) as Restore;
    } catch (error) {
      throw new BerthResponseError(`The restore's answer is not JSON: ${text.slice(0, 160)}`, { cause: error });
    }
  }

  restoreBackup(name: string, backup: number, options: { signal?: AbortSignal } = {}): Promise<Restore> {
    return this.call('POST', `${dbPath(name)}/backups/${backup}/restore`, signalOf(options));
  }

  getRestore(name: string, id: number, options: { signal?: AbortSignal } = {}): Promise<Restore> {
    return this.call('GET', `${dbPath(name)}/restores/${id}`, signalOf(options));
  }

  /** Takes a backup now; it is verified like every backup (see `waitForBackup`). */
  backup(name: string, options: { signal?: AbortSignal } = {}): Promise<Backup> {
    return this.call('POST', `${dbPath(name)}/backups`, signalOf(options));
  }

  /** Newest first. */
  backups(name: string, options: { signal?: AbortSignal } = {}): Promise<Backup[]> {
    return this.call('GET', `${dbPath(name)}/backups`, signalOf(options));
  }

  getBackup(name: string, id: number, options: { signal?: AbortSignal } = {}): Promise<Backup> {
    return this.call('GET', `${dbPath(name)}/backups/${id}`, signalOf(options));
  }

  /** Checks a backup again: its checksum, then a restore into a scratch task. */
  verifyBackup(name: string, id: number, options: { signal?: AbortSignal } = {}): Promise<Backup> {
    return this.call('POST', `${dbPath(name)}/backups/${id}/verify`, signalOf(options));
  }

  /** Resolves with the backup once it is `verified` or `failed`. */
  waitForBackup(name: string, id: number, options: WaitForOptions = {}): Promise<Backup> {
    return this.poll(() => this.getBackup(name, id, signalOf(options)), (b) => b.status === 'verified' || b.status === 'failed', `backup ${id} of '${name}'`, options);
  }

  /** Resolves with the restore once it `succeeded` or `failed`. */
  waitForRestore(name: string, id: number, options: WaitForOptions = {}): Promise<Restore> {
    return this.poll(() => this.getRestore(name, id, signalOf(options)), (r) => r.status === 'succeeded' || r.status === 'failed', `restore ${id} of '${name}'`, options);
  }

  /** Resolves once the database is `ready`, or with the document when it `failed`. */
  waitUntilReady(name: string, options: WaitForOptions = {}): Promise<DatabaseStatus> {
    return this.poll(() => this.get(name, signalOf(options)), (d) => d.status === 'ready' || d.status === 'failed', `database '${name}'`, options);
  }

  private async poll<T extends { status: string }>(read: () => Promise<T>, done: (value: T) => boolean, what: string, options: WaitForOptions): Promise<T> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_WAIT_MS;
    const started = Date.now();
    const deadline = started + timeoutMs;
    let last = '';
    for (;;) {
      const value = await read();
      if (value.status !== last) {
        last = value.status;
        options.onStatus?.(last);
      }
      if (done(value)) return value;
      if (Date.now() >= deadline) throw new BerthTimeoutError(`${what} is still ${last} after ${Math.round(timeoutMs / 1000)} s`);
      await pause(options.pollIntervalMs ?? (Date.now() - started < FAST_POLL_FOR_MS ? FAST_POLL_MS : DEFAULT_POLL_MS), options.signal);
    }
  }
}

/** A dump the server cut off (it does so when the dump fails after its first byte) says so, rather than looking like a network fault. */
async function* whole(body: AsyncIterable<Uint8Array>, name: string, signal: AbortSignal | undefined): AsyncGenerator<Uint8Array> {
  let bytes = 0;
  try {
    for await (const chunk of body) {
      bytes += chunk.length;
      yield chunk;
    }
  } catch (error) {
    if (signal?.aborted || error instanceof BerthTimeoutError) throw error;
    throw new BerthTransferBrokenError(`The dump of '${name}' broke off after ${bytes} bytes: the server could not finish it (its log says why). What came is not a whole dump`, { cause: error });
  }
}

function dbPath(name: string): string {
  return `/databases/${encodeURIComponent(name)}`;
}

function signalOf(options: { signal?: AbortSignal }): { signal?: AbortSignal } {
  return options.signal === undefined ? {} : { signal: options.signal };
}
