import type { Clock } from '../domain/model.js';
import type { Db } from './database.js';
import { DeploymentRepository } from './deployments.js';
import { EventRepository } from './events.js';
import { ProjectRepository } from './projects.js';
import { RevisionRepository } from './revisions.js';
import { ServiceRepository } from './services.js';
import { TaskLogRepository } from './task-logs.js';

/** The repositories over one database, and its transaction boundary. */
export class Store {
  readonly projects: ProjectRepository;
  readonly services: ServiceRepository;
  readonly revisions: RevisionRepository;
  readonly deployments: DeploymentRepository;
  readonly events: EventRepository;
  readonly taskLogs: TaskLogRepository;

  constructor(
    readonly db: Db,
    clock: Clock,
  ) {
    this.projects = new ProjectRepository(db, clock);
    this.services = new ServiceRepository(db, clock);
    this.revisions = new RevisionRepository(db, clock);
    this.deployments = new DeploymentRepository(db, clock);
    this.events = new EventRepository(db, clock);
    this.taskLogs = new TaskLogRepository(db);
  }

  transaction<T>(work: () => T): T {
    return this.db.transaction(work)();
  }

  /**
   * Rows written through this connection since it opened (SQLite's total_changes()). The
   * server is the only writer of its database, so an equal count means nothing changed.
   */
  changes(): number {
    return (this.db.prepare('SELECT total_changes() AS n').get() as { n: number }).n;
  }
}
