import type { ServiceDefinition } from '../domain/definition.js';
import type { Clock, Deployment, Service } from '../domain/model.js';
import type { Store } from '../store/store.js';

/**
 * How often the rows' versions are compared even without a write on berth's connection,
 * whose count alone cannot see a change made to the database by hand: such a change shows
 * within this time, as a change to a container without an event shows within the
 * container view's relist period.
 */
export const REREAD_MS = 30_000;

/** A service as the pass read it, with the definition of the revision it serves. */
export interface ServiceRead {
  readonly service: Service;
  /** null while the service serves no revision. */
  readonly serving: ServiceDefinition | null;
}

/** What a reconcile pass reads of every service, as of one count of the store's writes. */
export interface StoreReads {
  /** The store's write count these rows are current for. */
  readonly changes: number;
  readonly services: readonly Service[];
  /** By service id. */
  readonly byService: ReadonlyMap<number, ServiceRead>;
  /** Each service's unfinished deployments, oldest first. */
  readonly openDeployments: ReadonlyMap<number, readonly Deployment[]>;
}

interface Held extends ServiceRead {
  readonly version: number;
}

/**
 * Keeps what every pass reads of the store, and reads again only what changed. Turning
 * hundreds of rows into objects on every pass was most of a pass's cost at 300 services,
 * and grew faster than the rows did (BENCHMARKS.md). A pass first compares SQLite's count
 * of writes on berth's connection; only when it moved are the service rows' versions
 * compared, and only the rows whose version moved are read (ADR 007).
 */
export class PassReads {
  private held = new Map<number, Held>();
  private last: StoreReads | null = null;
  private comparedAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly rereadMs = REREAD_MS,
  ) {}

  read(): StoreReads {
    const changes = this.store.changes();
    const now = this.clock.now();
    if (this.last?.changes === changes && now - this.comparedAt < this.rereadMs) return this.last;
    // A rollback undoes rows without taking the count or the versions back: what a
    // transaction reads is not kept.
    const keep = !this.store.db.inTransaction;
    const held = new Map<number, Held>();
    for (const [id, version] of this.store.services.versions()) {
      const before = this.held.get(id);
      const entry = before?.version === version ? before : this.readService(id, version, before);
      if (entry) held.set(id, entry);
    }
    const openDeployments = new Map<number, Deployment[]>();
    for (const deployment of this.store.deployments.openOfAll()) {
      const list = openDeployments.get(deployment.serviceId) ?? [];
      list.push(deployment);
      openDeployments.set(deployment.serviceId, list);
    }
    const reads: StoreReads = { changes, services: [...held.values()].map((h) => h.service), byService: held, openDeployments };
    if (keep) {
      this.held = held;
      this.last = reads;
      this.comparedAt = now;
    }
    return reads;
  }

  private readService(id: number, version: number, before: Held | undefined): Held | null {
    const service = this.store.services.byId(id);
    if (!service) return null;
    const number = service.currentRevision;
    // Definitions never change: only a new serving revision is read.
    const serving =
      before && before.service.currentRevision === number
        ? before.serving
        : number === null
          ? null
          : (this.store.revisions.get(id, number)?.definition ?? null);
    return { version, service, serving };
  }
}
