import { randomBytes } from 'node:crypto';
import type { Database, DatabaseDefinition } from '../domain/database.js';
import { ENGINES } from '../domain/database-engines.js';
import { DEFAULT_CPU_LIMIT, DEFAULT_PIDS_LIMIT } from '../domain/definition.js';
import { InternalError } from '../domain/errors.js';
import type { Clock } from '../domain/model.js';
import { reachPort } from '../runtime/task-runtime.js';
import type { SecretStore } from '../secrets/secret-store.js';
import { secretOwner } from '../secrets/secret-store.js';
import type { Readiness, DatabaseDriver, DatabaseTarget } from './database-driver.js';
import type { PassContext } from './controller.js';
import { databaseTaskLabels, LABEL, resourceNames, type DatabaseTask } from './labels.js';
import type { TaskOps } from './task-ops.js';

/** How often a task is probed while it is not ready, and once it is. */
const PROBE_STARTING_MS = 500;
const PROBE_READY_MS = 10_000;

/**
 * What every database controller does with a database's tasks: make them (the serving one on
 * the database's volume under its name on the project's network; scratch ones with neither),
 * reach them with the database's password, and know whether they are ready.
 */
export class DatabaseTasks {
  private readonly probes = new Map<string, { readiness: Readiness; at: number; running: boolean }>();

  constructor(
    private readonly tasks: TaskOps,
    private readonly secrets: SecretStore,
    readonly drivers: Readonly<Record<Database['engine'], DatabaseDriver>>,
    private readonly clock: Clock,
    private readonly instance: string,
    /** Told when a probe's answer changed (the loop then passes again). */
    private readonly changed: () => void,
  ) {}

  password(db: Database): string {
    const password = this.secrets.get(secretOwner.database(db.id), 'password');
    if (password === null) throw new InternalError(`database ${db.project}/${db.name} has no password stored`);
    return password;
  }

  /** Makes (and by default starts) a task of the database; `purpose` null is the serving one. Answers its id. */
  launch(db: Database, definition: DatabaseDefinition, revision: number, purpose: string | null, start = true): Promise<string> {
    const profile = ENGINES[db.engine];
    const task = `${db.name}-${purpose === null ? 'db' : 'scratch'}-${randomBytes(2).toString('hex')}`;
    const { env, command } = profile.task(db.name, this.password(db));
    return this.tasks.startDatabaseTask({
      project: db.project,
      task,
      // A database's image is named by berth's own engines table: nothing to pull with, nothing of a project's.
      image: { reference: definition.image, engineName: definition.image, auth: null, alwaysPull: false },
      labels: databaseTaskLabels({ instance: this.instance, project: db.project, task, reservationMiB: definition.memoryReservationMiB, databaseId: db.id, revision, purpose }),
      env,
      command,
      limits: { memoryLimitMiB: definition.memoryLimitMiB, memoryReservationMiB: definition.memoryReservationMiB, cpuLimit: DEFAULT_CPU_LIMIT, pidsLimit: DEFAULT_PIDS_LIMIT, capAdd: [] },
      aliases: purpose === null ? [db.name] : [],
      volumes: purpose === null ? [{ spec: this.volume(db), target: profile.dataPath }] : [],
      start,
      // Published on its node where berth's drivers cannot reach the task's own address (Swarm).
      servedPorts: [profile.port],
      constraints: [],
      local: true,
    });
  }

  volume(db: Pick<Database, 'project' | 'name'>): { name: string; labels: Record<string, string> } {
    return {
      name: resourceNames.databaseVolume(this.instance, db.project, db.name),
      labels: this.volumeLabels(db),
    };
  }

  volumeLabels(db: Pick<Database, 'project' | 'name'>): Record<string, string> {
    return { [LABEL.managed]: 'true', [LABEL.instance]: this.instance, [LABEL.project]: db.project, [LABEL.database]: db.name };
  }

  /** How a driver reaches the task; null while it has no address (not running). */
  target(db: Database, task: DatabaseTask): DatabaseTarget | null {
    if (task.container.state !== 'running' || task.container.address === null) return null;
    const port = reachPort(task.container, ENGINES[db.engine].port);
    return { taskId: task.container.id, address: task.container.address, port, database: db.name, password: this.password(db) };
  }

  /**
   * Whether the task is ready, from its last probe; a probe runs in the background when the
   * last one is old (often while it starts, seldom once ready), and the pass is woken for it.
   */
  readiness(db: Database, task: DatabaseTask, pass: PassContext): Readiness {
    const target = this.target(db, task);
    if (target === null) return { ready: false, description: 'not running' };
    const id = task.container.id;
    const known = this.probes.get(id);
    const now = this.clock.now();
    const every = known?.readiness.ready ? PROBE_READY_MS : PROBE_STARTING_MS;
    if (!known || (!known.running && now - known.at >= every)) {
      const entry = { readiness: known?.readiness ?? { ready: false, description: 'starting' }, at: now, running: true };
      this.probes.set(id, entry);
      void this.drivers[db.engine].probe(target).then((readiness) => {
        const before = entry.readiness;
        entry.readiness = readiness;
        entry.at = this.clock.now();
        entry.running = false;
        if (before.ready !== readiness.ready) this.changed();
      });
    }
    pass.wakeAt(now + every);
    return this.probes.get(id)?.readiness ?? { ready: false, description: 'starting' };
  }

  /** Forgets probes of tasks that are gone. */
  retain(ids: ReadonlySet<string>): void {
    for (const id of this.probes.keys()) if (!ids.has(id)) this.probes.delete(id);
  }

  stop(db: Database, task: DatabaseTask): Promise<boolean> {
    return this.tasks.stop(task, ENGINES[db.engine].stopSignal);
  }

  isStopping(task: DatabaseTask): boolean {
    return this.tasks.isStopping(task.container.id);
  }

  remove(task: DatabaseTask): Promise<void> {
    return this.tasks.remove(task.container.id);
  }

  start(task: DatabaseTask): Promise<void> {
    return this.tasks.start(task.container.id);
  }

  startById(id: string): Promise<void> {
    return this.tasks.start(id);
  }

  remains(task: DatabaseTask): ReturnType<TaskOps['remains']> {
    return this.tasks.remains(task.container.id);
  }
}
