import type { Clock } from '../domain/model.js';
import type { Cluster } from '../runtime/cluster.js';
import { isAlive, type TaskRuntime } from '../runtime/task-runtime.js';
import type { Logger } from './failure-log.js';
import { LABEL, readLabels } from './labels.js';

/** How often nodes are looked at while none is being drained, and while one is. */
const IDLE_CHECK_MS = 5_000;
const BUSY_CHECK_MS = 1_000;

/**
 * Finishes a drain berth started: once no service task of any server runs on a node marked
 * draining (the service controllers moved them, start-first), Swarm is told to drain it, which
 * stops what is left (jobs, and tasks that are not berth's). The mark lives on the node
 * itself, so a drain survives a restart of berth.
 */
export class NodeDrainer {
  private nextCheck = 0;
  private draining = false;

  constructor(
    private readonly cluster: Cluster,
    private readonly runtime: TaskRuntime,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  /** Look at the nodes at the next pass. */
  soon(): void {
    this.nextCheck = 0;
  }

  /** Answers true while a node is being drained. */
  async pass(): Promise<boolean> {
    if (this.cluster.orchestrator !== 'swarm') return false;
    const now = this.clock.now();
    if (now < this.nextCheck) return this.draining;
    const draining = (await this.cluster.listNodes()).filter((n) => n.draining);
    this.draining = draining.length > 0;
    this.nextCheck = now + (this.draining ? BUSY_CHECK_MS : IDLE_CHECK_MS);
    if (!this.draining) return false;
    const tasks = (await this.runtime.listTasks({ [LABEL.managed]: 'true' })).filter((t) => isAlive(t) && readLabels(t)?.kind === 'service');
    for (const node of draining) {
      const left = tasks.filter((t) => t.node === node.id).length;
      if (left > 0) continue;
      await this.cluster.setAvailability(node.id, 'drain');
      this.logger.info(`node ${node.name} is drained: berth moved its tasks away`);
    }
    return true;
  }
}
