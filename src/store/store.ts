import type { Clock } from '../domain/model.js';
import type { Db } from './database.js';
import { BackupRepository } from './backups.js';
import { DatabaseRepository } from './databases.js';
import { DeploymentRepository } from './deployments.js';
import { EventRepository } from './events.js';
import { JobRepository } from './jobs.js';
import { ProjectResourceRepository, StackRepository } from './stacks.js';
import { ProjectRepository } from './projects.js';
import { RevisionRepository } from './revisions.js';
import { SecretRepository } from './secrets.js';
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
  readonly jobs: JobRepository;
  readonly stacks: StackRepository;
  readonly networks: ProjectResourceRepository;
  readonly volumes: ProjectResourceRepository;
  readonly secrets: SecretRepository;
  readonly databases: DatabaseRepository;
  readonly backups: BackupRepository;

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
    this.jobs = new JobRepository(db, clock);
    this.stacks = new StackRepository(db, clock);
    this.networks = new ProjectResourceRepository(db, clock, 'project_networks');
    this.volumes = new ProjectResourceRepository(db, clock, 'project_volumes');
    this.secrets = new SecretRepository(db, clock);
    this.databases = new DatabaseRepository(db, clock);
    this.backups = new BackupRepository(db, clock);
  }

  transaction<T>(work: () => T): T {
    return this.db.transaction(work)();
  }

  /**
   * How often each kind of workload's rows changed: 'services' (services, revisions,
   * deployments) and 'jobs' (jobs and their attempts). Triggers keep the counts, so every
   * write counts, a change made by hand included (ADR 009).
   */
  counters(): ChangeCounters {
    const rows = this.db.prepare('SELECT name, n FROM change_counters').raw(true).all() as [string, number][];
    const counts = new Map(rows);
    return { services: counts.get('services') ?? 0, jobs: counts.get('jobs') ?? 0, databases: counts.get('databases') ?? 0 };
  }
}

export interface ChangeCounters {
  readonly services: number;
  readonly jobs: number;
  /** Databases, their backups and restores. */
  readonly databases: number;
}
