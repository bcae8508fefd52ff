import type { ServiceDefinition } from '../domain/definition.js';
import type { Deployment, Service } from '../domain/model.js';
import type { Store } from '../store/store.js';

/** A service as the pass read it, with the definition of the revision it serves. */
export interface ServiceRead {
  readonly service: Service;
  /** null while the service serves no revision. */
  readonly serving: ServiceDefinition | null;
}

/** What a reconcile pass reads of every service, as of one count of the services' changes. */
export interface StoreReads {
  /** The store's count of changes to services, revisions and deployments these rows are current for. */
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
 * and grew faster than the rows did (BENCHMARKS.md). A pass first compares the store's count
 * of changes to services, revisions and deployments, which triggers keep (ADR 009): only when
 * it moved are the service rows' versions compared, and only the rows whose version moved
 * are read (ADR 007). A write to jobs, events or logs costs a pass nothing here.
 */
export class PassReads {
  private held = new Map<number, Held>();
  private last: StoreReads | null = null;

  constructor(private readonly store: Store) {}

  read(): StoreReads {
    const changes = this.store.counters().services;
    if (this.last?.changes === changes) return this.last;
    // What a transaction reads may yet be rolled back: it is not kept.
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
