import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Writable } from 'node:stream';
import { createClient } from 'redis';
import type { Counts } from '../domain/backup.js';
import { DumpFailedError } from '../domain/errors.js';
import type { DatabaseDriver, DatabaseTarget, DumpSource, Readiness, ReplicaRestore } from '../reconciler/database-driver.js';
import type { TaskExec } from '../runtime/task-exec.js';
import type { TaskRuntime } from '../runtime/task-runtime.js';

function connectTo(target: DatabaseTarget) {
  return createClient({ socket: { host: target.address, port: target.port, connectTimeout: CONNECT_TIMEOUT_MS, reconnectStrategy: false }, password: target.password });
}

type Client = ReturnType<typeof connectTo>;

const CONNECT_TIMEOUT_MS = 3_000;
/** The longest a snapshot may take to be written before a dump gives up. */
const SAVE_TIMEOUT_MS = 30 * 60_000;
/** A snapshot replaced while it was being linked is tried again this often. */
const SNAPSHOT_TRIES = 5;

/**
 * Redis over the project's network (node-redis) and inside its task. A dump is the server's own
 * RDB snapshot: writes are paused for the instant between counting the keys and the fork that
 * takes the snapshot, so the count recorded is the snapshot's; the file is then hard-linked (a
 * later save cannot replace what is read) and streamed out of the task.
 */
export class RedisDriver implements DatabaseDriver, ReplicaRestore {
  readonly engine = 'redis' as const;

  constructor(
    private readonly runtime: TaskRuntime,
    private readonly exec: TaskExec,
  ) {}

  async probe(target: DatabaseTarget): Promise<Readiness> {
    try {
      const answer = await this.withClient(target, (client) => client.ping());
      return answer === 'PONG' ? { ready: true, description: null } : { ready: false, description: `PING answered ${answer}` };
    } catch (error) {
      return { ready: false, description: (error as Error).message };
    }
  }

  async dump(target: DatabaseTarget, _format: string, out: Writable, options: { count: boolean; signal?: AbortSignal }): Promise<Counts | null> {
    return this.withClient(target, async (client) => {
      for (let attempt = 1; ; attempt++) {
        const counts = await snapshot(client);
        const saves = await finishedSave(client);
        const dir = (await client.configGet('dir')).dir as string;
        const file = `${dir}/${(await client.configGet('dbfilename')).dbfilename as string}`;
        const link = `${file}.berth-${randomBytes(4).toString('hex')}`;
        await this.run(target, ['ln', '-f', file, link], 'ln');
        try {
          if ((await persistence(client)).rdb_saves !== String(saves)) {
            if (attempt >= SNAPSHOT_TRIES) throw new DumpFailedError(`Redis saved again while its snapshot was taken, ${attempt} times; try again`);
            continue;
          }
          await this.run(target, ['cat', link], 'cat', out, options.signal);
        } finally {
          await this.run(target, ['rm', '-f', link], 'rm');
        }
        return options.count ? counts : null;
      }
    });
  }

  count(target: DatabaseTarget): Promise<Counts> {
    return this.withClient(target, keyCounts);
  }

  async hasData(target: DatabaseTarget): Promise<boolean> {
    return ((await this.count(target)).keys ?? 0) > 0;
  }

  /** Redis reads its RDB file when it starts: the dump goes where the official image keeps it. */
  async beforeScratchStart(taskId: string, source: DumpSource): Promise<void> {
    await this.runtime.copyFileInto(taskId, '/data/dump.rdb', { stream: source.open(), size: source.size });
  }

  async loadScratch(): Promise<void> {}

  async follow(target: DatabaseTarget, scratchAddress: string): Promise<void> {
    await this.withClient(target, async (client) => {
      await client.configSet('masterauth', target.password);
      await client.sendCommand(['REPLICAOF', scratchAddress, '6379']);
    });
  }

  async caughtUp(target: DatabaseTarget): Promise<boolean> {
    return this.withClient(target, async (client) => {
      const info = fields(await client.info('replication'));
      return info.role === 'slave' && info.master_link_status === 'up' && info.master_sync_in_progress === '0';
    });
  }

  async unfollow(target: DatabaseTarget): Promise<void> {
    await this.withClient(target, async (client) => {
      await client.sendCommand(['REPLICAOF', 'NO', 'ONE']);
      await client.configSet('masterauth', '');
    });
  }

  private async run(target: DatabaseTarget, command: string[], tool: string, stdout?: Writable, signal?: AbortSignal): Promise<void> {
    const result = await this.exec.run(target.taskId, { command, ...(stdout ? { stdout } : {}), ...(signal ? { signal } : {}) });
    if (result.exitCode !== 0) throw new DumpFailedError(`${tool} in the Redis task exited with code ${result.exitCode}: ${result.stderr.trim() || 'no message'}`);
  }

  private async withClient<T>(target: DatabaseTarget, work: (client: Client) => Promise<T>): Promise<T> {
    const client = connectTo(target);
    // A broken connection rejects the command it breaks; the event must have a listener or it ends the process.
    client.on('error', () => {});
    await client.connect();
    try {
      return await work(client);
    } finally {
      client.destroy();
    }
  }
}

/** Pauses writes, counts the keys, forks the snapshot, lets writes go on: the count is the snapshot's. */
async function snapshot(client: Client): Promise<Counts> {
  const deadline = Date.now() + SAVE_TIMEOUT_MS;
  for (;;) {
    await client.sendCommand(['CLIENT', 'PAUSE', '10000', 'WRITE']);
    let started: boolean;
    let counts: Counts;
    try {
      counts = await keyCounts(client);
      started = await client.bgSave().then(
        () => true,
        (error: Error) => {
          if (/in progress/i.test(error.message)) return false;
          throw error;
        },
      );
    } finally {
      await client.sendCommand(['CLIENT', 'UNPAUSE']);
    }
    if (started) return counts;
    // Redis's own save (or a rewrite) is running: ours forks once it has ended.
    if (Date.now() >= deadline) throw new DumpFailedError('Redis was busy saving for too long to take a snapshot');
    await sleep(200);
  }
}

/** Waits for the snapshot being written; answers the server's count of saves, which changes with any later one. */
async function finishedSave(client: Client): Promise<number> {
  const deadline = Date.now() + SAVE_TIMEOUT_MS;
  for (;;) {
    const info = await persistence(client);
    if (info.rdb_bgsave_in_progress === '0') {
      if (info.rdb_last_bgsave_status !== 'ok') throw new DumpFailedError('Redis could not write its snapshot (rdb_last_bgsave_status is err); see its log');
      return Number(info.rdb_saves);
    }
    if (Date.now() >= deadline) throw new DumpFailedError('Redis did not finish writing its snapshot in time');
    await sleep(100);
  }
}

async function persistence(client: Client): Promise<Record<string, string>> {
  return fields(await client.info('persistence'));
}

/** `keys` in every numbered database, and how many of them will expire. */
async function keyCounts(client: Client): Promise<Counts> {
  let keys = 0;
  let expiring = 0;
  for (const [field, value] of Object.entries(fields(await client.info('keyspace')))) {
    if (!/^db\d+$/.test(field)) continue;
    const parts = Object.fromEntries(value.split(',').map((kv) => kv.split('=') as [string, string]));
    keys += Number(parts.keys ?? 0);
    expiring += Number(parts.expires ?? 0);
  }
  return { keys, 'expiring-keys': expiring };
}

function fields(info: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of info.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0 && !line.startsWith('#')) out[line.slice(0, colon)] = line.slice(colon + 1);
  }
  return out;
}
