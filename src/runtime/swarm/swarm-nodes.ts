import type Docker from 'dockerode';
import { InvalidNodeRequestError } from '../../domain/node-errors.js';
import type { ClusterNode, NodeAvailability, NodeStatus } from '../cluster.js';
import { engineCall, statusOf, wrapEngineError } from '../docker/engine-errors.js';
import type { NodeInfo } from '../task-runtime.js';
import type { NodeState } from './task-view.js';

/** The node label that says berth is moving the node's tasks away before Swarm drains it. */
export const DRAINING_LABEL = 'io.berth.draining';

/** The parts of the Engine API's node berth reads. */
interface SwarmNode {
  readonly ID: string;
  readonly Version?: { readonly Index?: number };
  readonly Spec?: { Name?: string; Role?: string; Availability?: string; Labels?: Record<string, string> };
  readonly Description?: {
    readonly Hostname?: string;
    readonly Platform?: { Architecture?: string; OS?: string };
    readonly Resources?: { MemoryBytes?: number; NanoCPUs?: number };
    readonly Engine?: { EngineVersion?: string; Labels?: Record<string, string> };
  };
  readonly Status?: { State?: string; Addr?: string };
  readonly ManagerStatus?: { Leader?: boolean; Addr?: string };
}

/** How long a listing of the nodes answers the many reads of one pass. */
const STATES_FRESH_MS = 250;

/** A Swarm's nodes, read and changed through a manager. */
export class SwarmNodes {
  private cached: { at: number; nodes: Promise<SwarmNode[]> } | null = null;

  constructor(private readonly docker: Docker) {}

  async list(): Promise<ClusterNode[]> {
    return (await this.raw(true)).map(clusterNode);
  }

  /** Each node's name, address, and whether it is up and keeps its tasks, by id. */
  async states(): Promise<ReadonlyMap<string, NodeState>> {
    const nodes = await this.raw(false);
    return new Map(
      nodes.map((n) => {
        const c = clusterNode(n);
        return [n.ID, { name: c.name, address: c.address, up: c.status === 'ready', evicting: c.draining || c.availability === 'drain' }];
      }),
    );
  }

  async infos(): Promise<NodeInfo[]> {
    return (await this.raw(true)).map((n) => {
      const c = clusterNode(n);
      return { id: n.ID, name: c.name, memoryBytes: c.memoryBytes, schedulable: c.status === 'ready' && c.availability === 'active' && !c.draining, attributes: attributes(n, c) };
    });
  }

  async joinCommand(role: 'worker' | 'manager'): Promise<string> {
    const swarm = (await engineCall('describe the Swarm', () => this.docker.swarmInspect())) as { JoinTokens?: { Worker?: string; Manager?: string } };
    const token = role === 'manager' ? swarm.JoinTokens?.Manager : swarm.JoinTokens?.Worker;
    const leader = (await this.raw(true)).find((n) => n.ManagerStatus?.Leader);
    const address = leader?.ManagerStatus?.Addr;
    if (!token || !address) throw new InvalidNodeRequestError('the Swarm gave no join token or manager address');
    return `docker swarm join --token ${token} ${address}`;
  }

  async setAvailability(id: string, availability: NodeAvailability | 'draining'): Promise<void> {
    await this.update(id, (spec) => {
      const labels = { ...(spec.Labels ?? {}) };
      if (availability === 'draining') labels[DRAINING_LABEL] = 'true';
      else delete labels[DRAINING_LABEL];
      return { ...spec, Availability: availability === 'draining' ? 'pause' : availability, Labels: labels };
    });
  }

  async setLabels(id: string, changes: Readonly<Record<string, string | null>>): Promise<void> {
    await this.update(id, (spec) => {
      const labels = { ...(spec.Labels ?? {}) };
      for (const [key, value] of Object.entries(changes)) {
        if (value === null) delete labels[key];
        else labels[key] = value;
      }
      return { ...spec, Labels: labels };
    });
  }

  async remove(id: string, force: boolean): Promise<void> {
    try {
      await this.docker.getNode(id).remove({ force });
    } catch (error) {
      // 400 "node is not down and can't be removed", 412 the last manager: the engine's words
      // say which, with the node's name for its id, as the user named it.
      const status = statusOf(error);
      if (status === 400 || status === 412) throw new InvalidNodeRequestError(await this.named(engineMessage(error), id));
      throw wrapEngineError(`remove node ${id}`, error);
    } finally {
      this.cached = null;
    }
  }

  /** `message` with the node's name for its id, when the node is known. */
  private async named(message: string, id: string): Promise<string> {
    const node = (await this.raw(false).catch(() => [])).find((n) => n.ID === id);
    const name = node ? clusterNode(node).name : null;
    return name ? message.split(id).join(name) : message;
  }

  private async update(id: string, change: (spec: NonNullable<SwarmNode['Spec']>) => SwarmNode['Spec']): Promise<void> {
    const node = (await engineCall(`inspect node ${id}`, () => this.docker.getNode(id).inspect())) as SwarmNode;
    await engineCall(`update node ${id}`, () => this.docker.getNode(id).update({ version: node.Version?.Index, ...change(node.Spec ?? {}) }));
    this.cached = null;
  }

  private raw(fresh: boolean): Promise<SwarmNode[]> {
    const now = Date.now();
    if (fresh || !this.cached || now - this.cached.at > STATES_FRESH_MS) {
      const nodes = engineCall('list Swarm nodes', () => this.docker.listNodes() as Promise<SwarmNode[]>);
      this.cached = { at: now, nodes };
      // A failed listing is not kept for the next reader.
      nodes.catch(() => {
        if (this.cached?.nodes === nodes) this.cached = null;
      });
    }
    return this.cached.nodes;
  }
}

function clusterNode(n: SwarmNode): ClusterNode {
  const labels = { ...(n.Spec?.Labels ?? {}) };
  const draining = labels[DRAINING_LABEL] === 'true';
  delete labels[DRAINING_LABEL];
  return {
    id: n.ID,
    name: n.Spec?.Name || n.Description?.Hostname || n.ID,
    address: addressOf(n),
    role: n.Spec?.Role === 'manager' ? 'manager' : 'worker',
    leader: n.ManagerStatus?.Leader ?? false,
    status: statusOfNode(n.Status?.State),
    availability: availabilityOf(n.Spec?.Availability),
    draining,
    memoryBytes: n.Description?.Resources?.MemoryBytes ?? 0,
    cpus: (n.Description?.Resources?.NanoCPUs ?? 0) / 1e9,
    labels,
    engineVersion: n.Description?.Engine?.EngineVersion ?? '',
  };
}

/** What placement constraints match on the node, in Swarm's own names. */
function attributes(n: SwarmNode, c: ClusterNode): Record<string, string> {
  const out: Record<string, string> = {
    'node.id': n.ID,
    'node.hostname': n.Description?.Hostname ?? '',
    'node.role': c.role,
    'node.platform.os': n.Description?.Platform?.OS ?? '',
    'node.platform.arch': n.Description?.Platform?.Architecture ?? '',
  };
  for (const [key, value] of Object.entries(n.Spec?.Labels ?? {})) out[`node.labels.${key}`] = value;
  for (const [key, value] of Object.entries(n.Description?.Engine?.Labels ?? {})) out[`engine.labels.${key}`] = value;
  return out;
}

/** A manager may report 0.0.0.0 as its own address; its manager address says where it is. */
function addressOf(n: SwarmNode): string {
  const addr = n.Status?.Addr;
  if (addr && addr !== '0.0.0.0') return addr;
  const manager = n.ManagerStatus?.Addr;
  return manager ? manager.replace(/:\d+$/, '') : '';
}

function statusOfNode(state: string | undefined): NodeStatus {
  return state === 'ready' || state === 'down' || state === 'disconnected' ? state : 'unknown';
}

function availabilityOf(value: string | undefined): NodeAvailability {
  return value === 'pause' || value === 'drain' ? value : 'active';
}

function engineMessage(error: unknown): string {
  const e = error as { json?: { message?: string }; message?: string };
  // Swarm's own words, without its RPC wrapping ("rpc error: code = FailedPrecondition desc = …").
  return (e.json?.message ?? e.message ?? String(error))
    .replace(/^\(HTTP code \d+\)[^-]*- /, '')
    .replace(/^rpc error: code = \w+ desc = /, '')
    .trim();
}
