import Docker from 'dockerode';
import { RuntimeUnavailableError } from '../../domain/errors.js';
import type { Readable } from 'node:stream';
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
import type { TaskStats } from '../task-stats.js';
import { engineCall } from './engine-errors.js';
import { subscribeToEngine } from './events.js';
import { DockerExec } from './exec.js';
import { DockerStats } from './stats.js';
import { DockerImages } from './images.js';
import { NeighbourAnnouncer } from './neighbour-announcer.js';
import { DockerNetworks } from './networks.js';
import { parsePool } from './subnets.js';
import { DockerTasks } from './tasks.js';
import { DockerVolumes } from './volumes.js';

const REQUEST_TIMEOUT_MS = 60_000;
/** Project networks' /22s come from here unless the server is told otherwise (--network-pool). */
const DEFAULT_NETWORK_POOL = '10.208.0.0/12';

export interface DockerRuntimeOptions {
  readonly socketPath?: string;
  readonly requestTimeoutMs?: number;
  /** Set the host's ARP entry of each container started (ADR 006); default: when running as root. */
  readonly announceNeighbours?: boolean;
  /** Receives what went wrong without failing the call; default process.emitWarning. */
  readonly onWarning?: (error: Error) => void;
  /** Where networks' subnets are carved from; default 10.208.0.0/12. */
  readonly networkPool?: string;
}

/**
 * The TaskRuntime port on one Docker Engine, through dockerode: a task is a container, the
 * engine's machine is the one node. Split by concern (tasks, images, networks, volumes,
 * events), as testcontainers splits its clients.
 */
export class DockerRuntime implements TaskRuntime {
  /** Commands in running tasks (`compose exec`, dumps and restores), on the same engine. */
  readonly exec: TaskExec;
  /** What the tasks use, for metrics. */
  readonly stats: TaskStats;
  private readonly docker: Docker;
  private readonly tasks: DockerTasks;
  private readonly images: DockerImages;
  private readonly networks: DockerNetworks;
  private readonly volumes: DockerVolumes;
  /** For streams that are quiet for long on purpose (events, followed logs, pulls with their own bound). */
  private readonly streams: Docker;
  /** Null unless berth may set the host's neighbour entries (root, the engine on this host). */
  private readonly neighbours: NeighbourAnnouncer | null;
  private readonly onWarning: (error: Error) => void;

  constructor(options: DockerRuntimeOptions = {}) {
    const socketPath = options.socketPath ?? '/var/run/docker.sock';
    // For request/answer calls: a hung engine must not hang a reconcile pass.
    this.docker = new Docker({ socketPath, timeout: options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS });
    this.streams = new Docker({ socketPath });
    this.tasks = new DockerTasks(this.docker, this.streams);
    this.images = new DockerImages(this.docker, this.streams);
    this.networks = new DockerNetworks(this.docker, parsePool(options.networkPool ?? DEFAULT_NETWORK_POOL, 'network-pool'));
    this.volumes = new DockerVolumes(this.docker);
    this.exec = new DockerExec(this.docker, this.streams);
    this.stats = new DockerStats(this.docker);
    const announce = options.announceNeighbours ?? process.geteuid?.() === 0;
    this.neighbours = announce ? new NeighbourAnnouncer(this.docker) : null;
    this.onWarning = options.onWarning ?? ((error) => process.emitWarning(error));
  }

  async ping(): Promise<void> {
    try {
      await this.docker.ping();
    } catch (error) {
      throw new RuntimeUnavailableError('The Docker engine does not answer', { cause: error });
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

  async startTask(id: string): Promise<void> {
    await this.tasks.start(id);
    // The task runs either way; one left unannounced may only be reachable up to 1 s later.
    try {
      await this.neighbours?.announce(id);
    } catch (error) {
      this.onWarning(error instanceof Error ? error : new Error(String(error)));
    }
  }

  signalTask(id: string, signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
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

  copyFileInto(id: string, path: string, source: { readonly stream: Readable; readonly size: number }): Promise<void> {
    return this.tasks.copyFileInto(id, path, source);
  }

  subscribe(labels: Readonly<Record<string, string>>, onEvent: (event: TaskEvent) => void): EventSubscription {
    return subscribeToEngine(this.streams, labels, onEvent);
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

  /** One engine, one node: the engine's machine, with its memory. */
  async nodes(): Promise<NodeInfo[]> {
    const info = (await engineCall('describe itself', () => this.docker.info())) as { ID: string; Name: string; MemTotal: number; OSType?: string; Architecture?: string };
    // What a --node or a constraint may name on one engine, in Swarm's words.
    const attributes = { 'node.id': info.ID, 'node.hostname': info.Name, 'node.role': 'manager', 'node.platform.os': info.OSType ?? '', 'node.platform.arch': info.Architecture ?? '' };
    return [{ id: info.ID, name: info.Name, memoryBytes: info.MemTotal, attributes }];
  }
}
