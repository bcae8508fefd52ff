import { parseLabelChanges, resolveNode, type NodeView } from '../domain/nodes.js';
import type { Cluster, ClusterNode } from '../runtime/cluster.js';
import { isAlive, type TaskRuntime } from '../runtime/task-runtime.js';
import { LABEL } from './labels.js';

/**
 * The nodes as the API shows and changes them: the cluster's nodes with what berth's tasks
 * (of every server sharing the cluster) reserve on each. A drain only marks the node: the
 * reconciler moves its tasks, then the node drainer lets Swarm drain it.
 */
export class NodeDirectory {
  constructor(
    private readonly cluster: Cluster,
    private readonly runtime: Pick<TaskRuntime, 'listTasks'>,
    /** Tells the reconciler the nodes changed, so that it moves tasks now. */
    private readonly changed: () => void,
  ) {}

  get orchestrator(): 'swarm' | 'engine' {
    return this.cluster.orchestrator;
  }

  async list(): Promise<NodeView[]> {
    const [nodes, tasks] = await Promise.all([this.cluster.listNodes(), this.runtime.listTasks({ [LABEL.managed]: 'true' })]);
    const use = new Map<string, { tasks: number; reserved: number }>();
    for (const task of tasks.filter(isAlive)) {
      const node = task.node === undefined ? nodes[0]?.id : task.node;
      if (!node) continue;
      const u = use.get(node) ?? { tasks: 0, reserved: 0 };
      u.tasks++;
      u.reserved += Number(task.labels[LABEL.reservation]) || 0;
      use.set(node, u);
    }
    return nodes.map((n) => view(n, use.get(n.id) ?? { tasks: 0, reserved: 0 }));
  }

  async get(name: string): Promise<NodeView> {
    return resolveNode(await this.list(), name);
  }

  joinCommand(role: 'worker' | 'manager'): Promise<string> {
    return this.cluster.joinCommand(role);
  }

  /** Marks the node: it takes no new task, and berth moves its tasks before Swarm drains it. */
  async drain(name: string): Promise<NodeView> {
    const node = resolveNode(await this.cluster.listNodes(), name);
    if (node.availability !== 'drain' && !node.draining) await this.cluster.setAvailability(node.id, 'draining');
    this.changed();
    return this.get(node.id);
  }

  async activate(name: string): Promise<NodeView> {
    const node = resolveNode(await this.cluster.listNodes(), name);
    await this.cluster.setAvailability(node.id, 'active');
    this.changed();
    return this.get(node.id);
  }

  async label(name: string, changes: Readonly<Record<string, string | null>>): Promise<NodeView> {
    const checked = parseLabelChanges(changes);
    const node = resolveNode(await this.cluster.listNodes(), name);
    await this.cluster.setLabels(node.id, checked);
    return this.get(node.id);
  }

  async remove(name: string, force: boolean): Promise<NodeView> {
    const node = await this.get(name);
    await this.cluster.removeNode(node.id, force);
    this.changed();
    return node;
  }
}

function view(n: ClusterNode, use: { tasks: number; reserved: number }): NodeView {
  return {
    id: n.id,
    name: n.name,
    address: n.address,
    role: n.role,
    leader: n.leader,
    status: n.status,
    availability: n.draining ? 'draining' : n.availability,
    memoryMiB: Math.floor(n.memoryBytes / 1024 / 1024),
    reservedMiB: use.reserved,
    tasks: use.tasks,
    cpus: n.cpus,
    labels: n.labels,
    engineVersion: n.engineVersion,
  };
}
