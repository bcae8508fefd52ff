import { InvalidNodeRequestError } from '../../src/domain/node-errors.js';
import type { Cluster, ClusterNode, NodeAvailability } from '../../src/runtime/cluster.js';

/** A Swarm's nodes in memory: what the API and the drainer read and change. */
export class FakeCluster implements Cluster {
  readonly orchestrator = 'swarm' as const;
  nodes: ClusterNode[];

  constructor(names: readonly string[]) {
    this.nodes = names.map((name, i) => ({
      id: `${name.replace(/[^a-z0-9]/g, '')}${'0'.repeat(25)}`.slice(0, 25),
      name,
      address: `10.0.0.${i + 1}`,
      role: i === 0 ? 'manager' : 'worker',
      leader: i === 0,
      status: 'ready',
      availability: 'active',
      draining: false,
      memoryBytes: 8192 * 1024 * 1024,
      cpus: 2,
      labels: {},
      engineVersion: '20.10.24',
    }));
  }

  async listNodes(): Promise<ClusterNode[]> {
    return this.nodes;
  }

  async joinCommand(role: 'worker' | 'manager'): Promise<string> {
    return `docker swarm join --token SWMTKN-1-${role} 10.0.0.1:2377`;
  }

  async setAvailability(id: string, availability: NodeAvailability | 'draining'): Promise<void> {
    this.change(id, (n) => ({ ...n, availability: availability === 'draining' ? 'pause' : availability, draining: availability === 'draining' }));
  }

  async setLabels(id: string, changes: Readonly<Record<string, string | null>>): Promise<void> {
    this.change(id, (n) => {
      const labels: Record<string, string> = { ...n.labels };
      for (const [k, v] of Object.entries(changes)) {
        if (v === null) delete labels[k];
        else labels[k] = v;
      }
      return { ...n, labels };
    });
  }

  async removeNode(id: string, force: boolean): Promise<void> {
    const node = this.nodes.find((n) => n.id === id);
    if (node?.status === 'ready' && !force) throw new InvalidNodeRequestError(`node ${node.name} is not down and can't be removed`);
    this.nodes = this.nodes.filter((n) => n.id !== id);
  }

  private change(id: string, f: (n: ClusterNode) => ClusterNode): void {
    this.nodes = this.nodes.map((n) => (n.id === id ? f(n) : n));
  }
}
