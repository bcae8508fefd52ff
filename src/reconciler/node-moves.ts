import type { Service } from '../domain/model.js';
import type { Store } from '../store/store.js';
import type { LabelledContainer } from './labels.js';
import type { NodeNames } from './node-names.js';

interface Loss {
  /** Tasks lost for this reason. */
  count: number;
  /** When the first was lost: replacements are the tasks made since. */
  readonly since: number;
}

/**
 * Tells, in one event per service, where the tasks a node took down went once their
 * replacements run: "node worker-2 is down; 2 tasks moved to worker-1". Losses are kept in
 * memory: after a restart the per-task events (reap's) still tell what happened.
 */
export class NodeMoves {
  private readonly losses = new Map<number, Map<string, Loss>>();

  constructor(
    private readonly store: Store,
    private readonly names: NodeNames,
  ) {}

  lost(serviceId: number, reason: string, at: number): void {
    let byReason = this.losses.get(serviceId);
    if (!byReason) this.losses.set(serviceId, (byReason = new Map()));
    const loss = byReason.get(reason);
    if (loss) loss.count++;
    else byReason.set(reason, { count: 1, since: at });
  }

  /** Once a service that lost tasks runs its replicas again, says where they went. */
  async tell(services: readonly Service[], tasks: ReadonlyMap<number, readonly LabelledContainer[]>, replicas: (service: Service) => number | null): Promise<void> {
    if (this.losses.size === 0) return;
    const byId = new Map(services.map((s) => [s.id, s]));
    for (const [serviceId, byReason] of this.losses) {
      const service = byId.get(serviceId);
      if (!service || service.currentRevision === null) {
        this.losses.delete(serviceId);
        continue;
      }
      const running = (tasks.get(serviceId) ?? []).filter((t) => t.revision === service.currentRevision && t.container.state === 'running');
      const wanted = replicas(service);
      if (wanted === null || running.length < wanted) continue;
      for (const [reason, loss] of byReason) {
        const moved = running.filter((t) => t.container.createdAt.getTime() >= loss.since - 1_000).slice(0, loss.count);
        const where = new Map<string, number>();
        for (const task of moved) {
          const name = (await this.names.of(task.container)) ?? 'another node';
          where.set(name, (where.get(name) ?? 0) + 1);
        }
        const places = [...where].map(([name, n]) => (where.size === 1 ? name : `${name} (${n})`)).join(', ');
        this.store.events.add(serviceId, `${reason}; ${loss.count} task${loss.count === 1 ? '' : 's'} moved to ${places || 'other nodes'}`);
      }
      this.losses.delete(serviceId);
    }
  }
}
