import { withLimits, type ServiceDefinition } from '../domain/definition.js';
import type { Clock, Revision, RevisionStatus } from '../domain/model.js';
import type { Db } from './database.js';

interface RevisionRow {
  service_id: number;
  number: number;
  definition: string;
  status: RevisionStatus;
  created_at: number;
}

function toRevision(row: RevisionRow): Revision {
  return {
    serviceId: row.service_id,
    number: row.number,
    definition: withLimits(JSON.parse(row.definition) as ServiceDefinition),
    status: row.status,
    createdAt: row.created_at,
  };
}

/** Revisions are immutable: only their status changes. */
export class RevisionRepository {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
  ) {}

  /** Stores the next revision (1, 2, 3 …). Call inside the caller's transaction. */
  add(serviceId: number, definition: ServiceDefinition): Revision {
    const { next } = this.db
      .prepare('SELECT COALESCE(MAX(number), 0) + 1 AS next FROM revisions WHERE service_id = ?')
      .get(serviceId) as { next: number };
    this.db
      .prepare("INSERT INTO revisions (service_id, number, definition, status, created_at) VALUES (?, ?, ?, 'PENDING', ?)")
      .run(serviceId, next, JSON.stringify(definition), this.clock.now());
    return this.get(serviceId, next) as Revision;
  }

  get(serviceId: number, number: number): Revision | null {
    const row = this.db.prepare('SELECT * FROM revisions WHERE service_id = ? AND number = ?').get(serviceId, number) as
      | RevisionRow
      | undefined;
    return row ? toRevision(row) : null;
  }

  list(serviceId: number): Revision[] {
    return (
      this.db.prepare('SELECT * FROM revisions WHERE service_id = ? ORDER BY number DESC').all(serviceId) as RevisionRow[]
    ).map(toRevision);
  }

  setStatus(serviceId: number, number: number, status: RevisionStatus): void {
    this.db.prepare('UPDATE revisions SET status = ? WHERE service_id = ? AND number = ?').run(status, serviceId, number);
  }
}
