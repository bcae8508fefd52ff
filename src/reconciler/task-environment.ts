import { colourRole } from '../domain/colours.js';
import { ENGINES } from '../domain/database-engines.js';
import type { ServiceDefinition } from '../domain/definition.js';
import type { Job } from '../domain/job.js';
import { secretOwner, type SecretStore } from '../secrets/secret-store.js';
import type { Store } from '../store/store.js';

/** A task's variables that berth keeps out of the revision: secrets, and the connection of each database named with `--db`. */
export interface TaskEnvironment {
  forService(project: string, serviceId: number, revision: number, definition: ServiceDefinition): string[];
  /** A job run from a service gets what the service's serving revision gets. */
  forJob(job: Job): string[];
}

/**
 * Resolved when a task is made, in memory only: a value that cannot be opened (the wrong key
 * file, a database deleted since) fails the task's start with the reason, never an empty value.
 */
export class SealedTaskEnvironment implements TaskEnvironment {
  constructor(
    private readonly store: Store,
    private readonly secrets: SecretStore,
  ) {}

  forService(project: string, serviceId: number, revision: number, definition: ServiceDefinition): string[] {
    const env: string[] = [];
    const owner = secretOwner.revision(serviceId, revision);
    for (const name of definition.secretNames ?? []) {
      const value = this.secrets.get(owner, name);
      if (value === null) throw new Error(`secret ${name} of revision ${revision} is not in the store`);
      env.push(`${name}=${value}`);
    }
    for (const name of definition.databases ?? []) {
      const db = this.store.databases.find(project, name);
      if (!db || db.status !== 'ACTIVE') throw new Error(`database '${name}' (--db) does not exist in project ${project}`);
      const password = this.secrets.get(secretOwner.database(db.id), 'password');
      if (password === null) throw new Error(`database '${name}' has no password stored`);
      for (const v of ENGINES[db.engine].serviceEnv(db.name, db.name, password)) env.push(`${v.name}=${v.value}`);
    }
    return env;
  }

  forJob(job: Job): string[] {
    if (job.spec.service === null) return [];
    const named = this.store.services.find(job.project, job.spec.service);
    // A service with colours runs its jobs with its live colour's revision, as POST /jobs took it.
    const service = named && colourRole(named) === 'coloured' ? (this.store.services.colourOf(named.id, named.liveColour as string) ?? named) : named;
    if (!service || service.currentRevision === null) return [];
    const definition = this.store.revisions.get(service.id, service.currentRevision)?.definition;
    return definition ? this.forService(job.project, service.id, service.currentRevision, definition) : [];
  }
}
