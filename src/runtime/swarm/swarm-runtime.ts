import Docker from 'dockerode';
import type { Readable } from 'node:stream';
import { RuntimeUnavailableError } from '../../domain/errors.js';
import { TaskOnOtherNodeError } from '../../domain/node-errors.js';
import type { Cluster, ClusterNode, NodeAvailability } from '../cluster.js';
import { engineCall } from '../docker/engine-errors.js';
import { DockerExec } from '../docker/exec.js';
import { DockerImages } from '../docker/images.js';
import { DockerTasks } from '../docker/tasks.js';
import { DockerVolumes } from '../docker/volumes.js';
import type {
  EventSubscription,
  LogLine,
  NetworkSpec,
  NodeInfo,
  RegistryAuth,
  TaskDetails,
  TaskEvent,
  TaskRuntime,
  TaskSpec,
  TaskSummary,
  VolumeSpec,
} from '../task-runtime.js';
import type { TaskExec } from '../task-exec.js';
import { subscribeByPolling } from './swarm-events.js';
import { SwarmExec, type LocalTasks } from './swarm-exec.js';
import { SwarmNetworks } from './swarm-networks.js';
import { SwarmNodes } from './swarm-nodes.js';
import { SwarmTasks } from './swarm-tasks.js';

const REQUEST_TIMEOUT_MS = 60_000;

export interface SwarmRuntimeOptions {
  /** A Swarm manager's engine socket. */
  readonly socketPath: string;
  readonly requestTimeoutMs?: number;
  /** How often task changes are looked for (Swarm's events do not tell them); default 250 ms. */
  readonly pollMs?: number;
  /** The same for the first 30 s a task waits to run, so a deployment sees its task start soon after Swarm does; default 25 ms. */
  readonly busyPollMs?: number;
  /** A task's grace between its stop signal and SIGKILL, unless its spec sets one; default 10 s. */
  readonly stopGraceMs?: number;
}

/**
 * The TaskRuntime and Cluster ports on a Docker Swarm, through one of its managers: a task is
 * a Swarm service of one replica (service-spec.ts), placed by Swarm on any node; images and
 * volumes are the manager's engine's (volumes are each node's own on Swarm); networks are
 * overlays; nodes are the Swarm's.
 */
export class SwarmRuntime implements TaskRuntime, Cluster {
  readonly orchestrator = 'swarm' as const;
  /** Commands in tasks on berth's own node (swarm-exec.ts). */
  readonly exec: TaskExec;
  private readonly docker: Docker;
  private readonly tasks: SwarmTasks;
  private readonly localTasks: DockerTasks;
  private readonly local: LocalTasks;
  private readonly images: DockerImages;
  private readonly networks: SwarmNetworks;
  private readonly volumes: DockerVolumes;
  private readonly swarmNodes: SwarmNodes;
  private readonly pollMs: number;
  private readonly busyPollMs: number;

  constructor(options: SwarmRuntimeOptions) {
    this.docker = new Docker({ socketPath: options.socketPath, timeout: options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS });
    const streams = new Docker({ socketPath: options.socketPath });
    this.swarmNodes = new SwarmNodes(this.docker);
    this.tasks = new SwarmTasks(this.docker, streams, this.swarmNodes, options.stopGraceMs ?? 10_000);
    this.images = new DockerImages(this.docker, streams);
    this.networks = new SwarmNetworks(this.docker);
    this.volumes = new DockerVolumes(this.docker);
    this.pollMs = options.pollMs ?? 250;
    this.busyPollMs = options.busyPollMs ?? 25;
    this.localTasks = new DockerTasks(this.docker, streams);
    const local: LocalTasks = { nodeOf: (labels) => this.nodeOf(labels), containerOf: (id) => this.containerOf(id) };
    this.local = local;
    this.exec = new SwarmExec(new DockerExec(this.docker, streams), local);
  }

  /** A file into a task on berth's own node (swarm-exec.ts says why only there). */
  async copyFileInto(id: string, path: string, source: { readonly stream: Readable; readonly size: number }): Promise<void> {
    const found = await this.local.containerOf(id);
    if ('node' in found) throw new TaskOnOtherNodeError(found.node);
    await this.localTasks.copyFileInto(found.container, path, source);
  }

  /** The container of Swarm task `id` on berth's own engine, else the node it is on (or why it has none). */
  private async containerOf(id: string): Promise<{ readonly container: string } | { readonly node: string }> {
    const containers = await engineCall('list containers', () => this.docker.listContainers({ all: true, filters: { label: [`com.docker.swarm.service.id=${id}`] } }));
    const newest = [...containers].sort((a, b) => b.Created - a.Created)[0];
    if (newest) return { container: newest.Id };
    const node = (await this.tasks.list({})).find((t) => t.id === id)?.node ?? null;
    if (node === null) return { node: 'none yet (the task waits to be placed)' };
    return { node: (await this.swarmNodes.states()).get(node)?.name ?? node };
  }

  private async nodeOf(labels: Readonly<Record<string, string>>): Promise<string | null> {
    const running = (await this.tasks.list(labels)).find((t) => t.state === 'running');
    if (!running) return null;
    const id = running.node ?? null;
    if (id === null) return 'unknown';
    return (await this.swarmNodes.states()).get(id)?.name ?? id;
  }

  async ping(): Promise<void> {
    try {
      await this.docker.ping();
    } catch (error) {
      throw new RuntimeUnavailableError('The Swarm manager\'s engine does not answer', { cause: error });
    }
  }

  listTasks(labels: Readonly<Record<string, string>>): Promise<TaskSummary[]> {
    return this.tasks.list(labels);
  }

  inspectTask(id: string): Promise<TaskDetails | null> {
    return this.tasks.inspect(id);
  }

  createTask(spec: TaskSpec): Promise<string> {
    return this.tasks.create(spec);
  }

  /** Swarm starts a task as soon as its service exists and a node takes it. */
  async startTask(): Promise<void> {}

  signalTask(id: string, signal: string): Promise<void> {
    return this.tasks.signal(id, signal);
  }

  removeTask(id: string): Promise<void> {
    return this.tasks.remove(id);
  }

  taskLogs(id: string, options: { tail: number; since?: Date }): Promise<LogLine[]> {
    return this.tasks.logs(id, options);
  }

  followTaskLogs(id: string, options: { tail: number; signal: AbortSignal; onLine: (line: LogLine) => void }): Promise<void> {
    return this.tasks.followLogs(id, options);
  }

  subscribe(labels: Readonly<Record<string, string>>, onEvent: (event: TaskEvent) => void): EventSubscription {
    return subscribeByPolling(() => this.tasks.list(labels), onEvent, { periodMs: this.pollMs, busyPeriodMs: this.busyPollMs });
  }

  imageNames(reference: string): Promise<readonly string[] | null> {
    return this.images.names(reference);
  }

  pullImage(reference: string, auth: RegistryAuth | null): Promise<void> {
    return this.images.pull(reference, auth);
  }

  removeImage(reference: string): Promise<void> {
    return this.images.remove(reference);
  }

  ensureNetwork(spec: NetworkSpec): Promise<void> {
    return this.networks.ensure(spec);
  }

  removeNetworks(labels: Readonly<Record<string, string>>): Promise<string[]> {
    return this.networks.remove(labels);
  }

  ensureVolume(spec: VolumeSpec): Promise<void> {
    return this.volumes.ensure(spec);
  }

  removeVolumes(labels: Readonly<Record<string, string>>): Promise<string[]> {
    return this.volumes.remove(labels);
  }

  nodes(): Promise<NodeInfo[]> {
    return this.swarmNodes.infos();
  }

  listNodes(): Promise<ClusterNode[]> {
    return this.swarmNodes.list();
  }

  joinCommand(role: 'worker' | 'manager'): Promise<string> {
    return this.swarmNodes.joinCommand(role);
  }

  setAvailability(id: string, availability: NodeAvailability | 'draining'): Promise<void> {
    return this.swarmNodes.setAvailability(id, availability);
  }

  setLabels(id: string, changes: Readonly<Record<string, string | null>>): Promise<void> {
    return this.swarmNodes.setLabels(id, changes);
  }

  removeNode(id: string, force: boolean): Promise<void> {
    return this.swarmNodes.remove(id, force);
  }
}
