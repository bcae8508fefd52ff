import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { PassThrough, type Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { DatabaseAccess, ObservedDatabase } from '../api/ports.js';
import type { Database } from '../domain/database.js';
import { ENGINES, fileExtension, type DumpFormat } from '../domain/database-engines.js';
import { DatabaseBusyError, DumpRefusedError } from '../domain/errors.js';
import type { DatabaseRestore } from '../domain/restore.js';
import type { ContainerView } from '../reconciler/container-view.js';
import type { DatabaseDriver, DatabaseTarget, FreshDatabaseRestore } from '../reconciler/database-driver.js';
import type { DumpStorage, DumpWriter } from '../reconciler/dump-storage.js';
import type { FaultPoints } from '../reconciler/fault-points.js';
import { freshDatabase } from '../reconciler/restore-controller.js';
import type { RestoreStreams } from '../reconciler/restore-streams.js';
import type { Store } from '../store/store.js';
import { LABEL, readLabels, type DatabaseTask } from '../reconciler/labels.js';
import { reachPort } from '../runtime/task-runtime.js';
import { secretOwner, type SecretStore } from '../secrets/secret-store.js';

/** The API's way into a database's data: its serving task's state, dumps streamed out, uploads kept (and loaded as they arrive) for a restore. */
export class RuntimeDatabaseAccess implements DatabaseAccess {
  constructor(
    private readonly containers: ContainerView,
    private readonly drivers: Readonly<Record<Database['engine'], DatabaseDriver>>,
    private readonly secrets: SecretStore,
    private readonly uploads: DumpStorage,
    private readonly instance: string,
    private readonly restores: { readonly store: Store; readonly fresh: FreshDatabaseRestore; readonly streams: RestoreStreams; readonly faults: FaultPoints },
  ) {}

  async observe(db: Database): Promise<ObservedDatabase> {
    const task = await this.serving(db);
    if (!task) return { task: null, state: 'none', address: null, ready: null };
    const observed = { task: task.task, state: task.container.state, address: task.container.address };
    if (task.container.state !== 'running') return { ...observed, ready: null };
    return { ...observed, ready: (await this.drivers[db.engine].probe(await this.target(db))).ready };
  }

  async dump(db: Database, format: DumpFormat, out: Writable, signal: AbortSignal): Promise<void> {
    await this.drivers[db.engine].dump(await this.target(db), format, out, { count: false, signal });
  }

  async hasData(db: Database): Promise<boolean> {
    return this.drivers[db.engine].hasData(await this.target(db));
  }

  async receive(db: Database, body: Readable, format: DumpFormat, expected: number | null, begin: (file: string, size: number | null) => DatabaseRestore): Promise<DatabaseRestore> {
    const file = `${db.project}/${db.name}/upload-${randomBytes(6).toString('hex')}.${fileExtension(format)}`;
    const target = db.engine === 'postgres' ? await this.target(db).catch(noTaskYet) : null;
    const writer = await this.uploads.create(file);
    // Redis, or no task to load into yet: the file is kept whole, then the restore is queued.
    if (target === null) {
      try {
        await pipeline(body, writer.stream);
        const { size } = await writer.commit();
        checkSize(size, expected);
        return begin(file, size);
      } catch (error) {
        await writer.abort();
        throw error;
      }
    }
    return this.receiveLoading(body, writer, target, expected, () => begin(file, null));
  }

  /**
   * PostgreSQL: the upload goes to its file and into the restore's fresh database at once. The
   * restore is `receiving` until the file is whole, fsynced and of the size announced; the
   * controller swaps only after that and after the load, and fails it if the upload breaks.
   */
  private async receiveLoading(body: Readable, writer: DumpWriter, target: DatabaseTarget, expected: number | null, begin: () => DatabaseRestore): Promise<DatabaseRestore> {
    const restore = begin();
    this.restores.streams.begin(restore.id);
    const feed = new PassThrough();
    // The load's end reports a broken feed; the event must have a listener or it ends the process.
    feed.on('error', () => {});
    const loading = this.restores.fresh.loadFresh(target, freshDatabase(target.database, restore.id), { size: 0, open: () => feed }, restore.format);
    const loadEnded = loading.then(
      () => this.restores.streams.loadEnded(restore.id, 'done'),
      (error: Error) => this.restores.streams.loadEnded(restore.id, error),
    );
    try {
      const size = await tee(body, writer.stream, feed, loadEnded, () => this.restores.faults.hit('restore:receiving'));
      // The load finishes its work (indexes) while the file is fsynced; no swap before both.
      feed.end();
      writer.stream.end();
      const committed = await writer.commit();
      checkSize(committed.size, expected);
      checkSize(committed.size, size);
      this.restores.store.backups.setRestoreReceived(restore.id, committed.size);
    } catch (error) {
      // The load sees the end of what arrived; the controller drops its database and fails the restore.
      feed.end();
      await writer.abort();
      this.restores.streams.uploadFailed(restore.id, (error as Error).message);
      throw error;
    }
    this.restores.faults.hit('restore:received');
    return this.restores.store.backups.restore(restore.id) ?? restore;
  }

  private async serving(db: Database): Promise<DatabaseTask | null> {
    const tasks = await this.containers.matching({ [LABEL.instance]: this.instance, [LABEL.database]: String(db.id), [LABEL.role]: 'serve' });
    const owned = tasks.map(readLabels).filter((t): t is DatabaseTask => t?.kind === 'database' && t.revision === db.servingRevision);
    return owned.find((t) => t.container.state === 'running') ?? owned[0] ?? null;
  }

  private async target(db: Database): Promise<DatabaseTarget> {
    const task = await this.serving(db);
    if (!task || task.container.state !== 'running' || task.container.address === null) throw new DatabaseBusyError(`Database '${db.name}' has no running task yet; see 'berth db status ${db.name}'`);
    const password = this.secrets.get(secretOwner.database(db.id), 'password') as string;
    return { taskId: task.container.id, address: task.container.address, port: reachPort(task.container, ENGINES[db.engine].port), database: db.name, password };
  }
}

const MIDWAY_BYTES = 1024 * 1024;

function checkSize(size: number, expected: number | null): void {
  if (expected !== null && size !== expected) throw new DumpRefusedError(`The upload is ${size} bytes, not the ${expected} announced`);
}

/**
 * Writes every chunk to both `file` and `load`, at the pace of the slower; once the load has
 * ended (`loadEnded`) it is fed no more, and the file is still written to its end. Answers the
 * bytes read; `midway` is called once, when the first MiB has been written (a fault point).
 */
async function tee(body: Readable, file: Writable, load: Writable, loadEnded: Promise<void>, midway: () => void): Promise<number> {
  let loadOver = false;
  void loadEnded.then(() => (loadOver = true));
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    const waits: Promise<unknown>[] = [];
    if (!file.write(chunk)) waits.push(once(file, 'drain'));
    // A load that failed may have broken its feed: that is the load's failure, reported by it, not the upload's.
    if (!loadOver && !load.write(chunk)) waits.push(Promise.race([once(load, 'drain').catch(() => undefined), loadEnded]));
    await Promise.all(waits);
    if (size < MIDWAY_BYTES && size + chunk.length >= MIDWAY_BYTES) midway();
    size += chunk.length;
  }
  return size;
}

/** A database with no running task to load into is restored from the whole file later; any other failure is the upload's. */
function noTaskYet(error: unknown): null {
  if (error instanceof DatabaseBusyError) return null;
  throw error;
}
