import type { Clock, ServiceEvent } from '../domain/model.js';
import type { Db } from './database.js';

interface EventRow {
  id: number;
  service_id: number;
  created_at: number;
  message: string;
  deployment_id: number | null;
}

function toEvent(r: EventRow): ServiceEvent {
  return { id: r.id, createdAt: r.created_at, message: r.message, deploymentId: r.deployment_id };
}

/** An event of one of several services read together (a service and its colours). */
export type OwnedEvent = ServiceEvent & { readonly serviceId: number };

const COLUMNS = 'id, service_id, created_at, message, deployment_id';

/** Events kept per service; older ones are pruned so a crash loop cannot grow the store forever. */
const KEPT_PER_SERVICE = 500;

export class EventRepository {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
  ) {}

  add(serviceId: number, message: string, deploymentId: number | null = null): void {
    const info = this.db
      .prepare('INSERT INTO events (service_id, deployment_id, created_at, message) VALUES (?, ?, ?, ?)')
      .run(serviceId, deploymentId, this.clock.now(), message);
    const id = Number(info.lastInsertRowid);
    if (id % 50 === 0) {
      this.db
        .prepare(
          'DELETE FROM events WHERE service_id = ? AND id <= (SELECT id FROM events WHERE service_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?)',
        )
        .run(serviceId, serviceId, KEPT_PER_SERVICE);
    }
  }

  /** Newest first. */
  list(serviceId: number, limit: number): ServiceEvent[] {
    return (
      this.db
        .prepare(`SELECT ${COLUMNS} FROM events WHERE service_id = ? ORDER BY id DESC LIMIT ?`)
        .all(serviceId, limit) as EventRow[]
    ).map(toEvent);
  }

  /** The events of several services merged, newest first: a service's own and its colours'. */
  listOfMany(serviceIds: readonly number[], limit: number): OwnedEvent[] {
    return (
      this.db
        .prepare(`SELECT ${COLUMNS} FROM events WHERE service_id IN (${marks(serviceIds)}) ORDER BY id DESC LIMIT ?`)
        .all(...serviceIds, limit) as EventRow[]
    ).map(toOwnedEvent);
  }

  /** The events of several services after `afterId`, oldest first. */
  sinceOfMany(serviceIds: readonly number[], afterId: number, limit = 200): OwnedEvent[] {
    return (
      this.db
        .prepare(`SELECT ${COLUMNS} FROM events WHERE service_id IN (${marks(serviceIds)}) AND id > ? ORDER BY id LIMIT ?`)
        .all(...serviceIds, afterId, limit) as EventRow[]
    ).map(toOwnedEvent);
  }
}

function toOwnedEvent(r: EventRow): OwnedEvent {
  return { ...toEvent(r), serviceId: r.service_id };
}

/** One placeholder per id; a service has only a few colours, so the statement cache stays small. */
function marks(ids: readonly number[]): string {
  return ids.map(() => '?').join(', ');
}
