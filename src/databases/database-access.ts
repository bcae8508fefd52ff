import { randomBytes } from 'node:crypto';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { DatabaseAccess, ObservedDatabase } from '../api/ports.js';
import type { Database } from '../domain/database.js';
import { ENGINES, fileExtension, type DumpFormat } from '../domain/database-engines.js';
import { DatabaseBusyError } from '../domain/errors.js';
import type { ContainerView } from '../reconciler/container-view.js';
import type { DatabaseDriver, DatabaseTarget } from '../reconciler/database-driver.js';
import type { DumpStorage } from '../reconciler/dump-storage.js';
import { LABEL, readLabels, type DatabaseTask } from '../reconciler/labels.js';
import { reachPort } from '../runtime/task-runtime.js';
import { secretOwner, type SecretStore } from '../secrets/secret-store.js';

/** The API's way into a database's data: its serving task's state, dumps streamed out, uploads kept for a restore. */
export class RuntimeDatabaseAccess implements DatabaseAccess {
  constructor(
    private readonly containers: ContainerView,
    private readonly drivers: Readonly<Record<Database['engine'], DatabaseDriver>>,
    private readonly secrets: SecretStore,
    private readonly uploads: DumpStorage,
    private readonly instance: string,
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

  async receive(db: Database, body: Readable, format: DumpFormat): Promise<{ file: string; size: number }> {
    const writer = await this.uploads.create(`${db.project}/${db.name}/upload-${randomBytes(6).toString('hex')}.${fileExtension(format)}`);
    try {
      await pipeline(body, writer.stream);
      const { file, size } = await writer.commit();
      return { file, size };
    } catch (error) {
      await writer.abort();
      throw error;
    }
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
