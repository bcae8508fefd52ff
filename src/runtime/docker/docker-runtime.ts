import Docker from 'dockerode';
import type { Readable } from 'node:stream';
import { RuntimeUnavailableError } from '../../domain/errors.js';
import type {
  ContainerDetails,
  ContainerRuntime,
  ContainerSpec,
  ContainerState,
  ContainerSummary,
  EventSubscription,
  LogLine,
  NetworkSpec,
  RegistryAuth,
  RuntimeEvent,
  RuntimeEventAction,
} from '../container-runtime.js';
import { linesOf, parseLogOutput, splitFrames } from './log-frames.js';
import { NeighbourAnnouncer } from './neighbour-announcer.js';
import { DockerNetworks } from './networks.js';
import { parsePool } from './subnets.js';

/** Project networks' /24s come from here unless the server is told otherwise (--network-pool). */
const DEFAULT_NETWORK_POOL = '10.213.0.0/16';

const EVENT_ACTIONS = new Set<RuntimeEventAction>(['create', 'start', 'die', 'oom', 'destroy', 'kill', 'stop']);
const PULL_TIMEOUT_MS = 10 * 60_000;
const REQUEST_TIMEOUT_MS = 60_000;
/** How far back a new event subscription replays the engine's events. */
const EVENT_REPLAY_SECONDS = 2;

interface EngineError {
  statusCode?: number;
}

function statusOf(error: unknown): number | undefined {
  return typeof error === 'object' && error !== null ? (error as EngineError).statusCode : undefined;
}

/** Runs `work`, treating the listed engine status codes as "already done". */
async function tolerating(codes: readonly number[], work: () => Promise<unknown>): Promise<void> {
  try {
    await work();
  } catch (error) {
    if (!codes.includes(statusOf(error) ?? 0)) throw error;
  }
}

function labelFilters(labels: Readonly<Record<string, string>>): string[] {
  return Object.entries(labels).map(([k, v]) => `${k}=${v}`);
}

/** The ContainerRuntime port on a Docker Engine, through dockerode. */
export class DockerRuntime implements ContainerRuntime {
  /** For request/answer calls: a hung engine must not hang a reconcile pass. */
  private readonly docker: Docker;
  /** For streams that are quiet for long on purpose (events, followed logs, pulls with their own bound). */
  private readonly streams: Docker;
  private removals: Promise<void> = Promise.resolve();
  /** Null unless berth may set the host's neighbour entries (root, the engine on this host). */
  private readonly neighbours: NeighbourAnnouncer | null;
  private readonly onWarning: (error: Error) => void;
  private readonly networks: DockerNetworks;

  constructor(
    options: {
      socketPath?: string;
      requestTimeoutMs?: number;
      /** Set the host's ARP entry of each container started (ADR 006); default: when running as root. */
      announceNeighbours?: boolean;
      /** Receives what went wrong without failing the call; default process.emitWarning. */
      onWarning?: (error: Error) => void;
      /** Where networks' subnets are carved from; default DEFAULT_NETWORK_POOL. */
      networkPool?: string;
    } = {},
  ) {
    const socketPath = options.socketPath ?? '/var/run/docker.sock';
    this.docker = new Docker({ socketPath, timeout: options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS });
    this.streams = new Docker({ socketPath });
    const announce = options.announceNeighbours ?? process.geteuid?.() === 0;
    this.neighbours = announce ? new NeighbourAnnouncer(this.docker) : null;
    this.onWarning = options.onWarning ?? ((error) => process.emitWarning(error));
    this.networks = new DockerNetworks(this.docker, parsePool(options.networkPool ?? DEFAULT_NETWORK_POOL, 'network-pool'));
  }

  async ping(): Promise<void> {
    try {
      await this.docker.ping();
    } catch (error) {
      throw new RuntimeUnavailableError('The Docker engine does not answer', { cause: error });
    }
  }

  async list(labels: Readonly<Record<string, string>>): Promise<ContainerSummary[]> {
    const containers = await this.docker.listContainers({ all: true, filters: { label: labelFilters(labels) } });
    return containers.map((c) => ({
      id: c.Id,
      name: (c.Names[0] ?? '').replace(/^\//, ''),
      image: c.Image,
      labels: c.Labels,
      state: c.State as ContainerState,
      createdAt: new Date(c.Created * 1000),
      ip: firstIp(c.NetworkSettings?.Networks ?? {}),
    }));
  }

  async inspect(id: string): Promise<ContainerDetails | null> {
    let info: Docker.ContainerInspectInfo;
    try {
      info = await this.docker.getContainer(id).inspect();
    } catch (error) {
      if (statusOf(error) === 404) return null;
      throw error;
    }
    const state = info.State;
    return {
      id: info.Id,
      name: info.Name.replace(/^\//, ''),
      image: info.Config.Image,
      labels: info.Config.Labels ?? {},
      state: state.Status as ContainerState,
      createdAt: new Date(info.Created),
      ip: state.Running ? firstIp(info.NetworkSettings.Networks) : null,
      exitCode: state.Running ? null : state.ExitCode,
      oomKilled: state.OOMKilled,
      startedAt: validDate(state.StartedAt),
      finishedAt: validDate(state.FinishedAt),
      memoryLimitBytes: info.HostConfig.Memory ?? 0,
      memoryReservationBytes: info.HostConfig.MemoryReservation ?? 0,
      env: info.Config.Env ?? [],
      privileged: info.HostConfig.Privileged ?? false,
      securityOptions: info.HostConfig.SecurityOpt ?? [],
      mounts: (info.Mounts ?? []).map((m) => m.Source ?? ''),
    };
  }

  async create(spec: ContainerSpec): Promise<string> {
    const container = await this.docker.createContainer({
      name: spec.name,
      Image: spec.image,
      Labels: { ...spec.labels },
      Env: [...spec.env],
      ...(spec.command ? { Cmd: [...spec.command] } : {}),
      HostConfig: {
        NetworkMode: spec.network,
        CapDrop: ['ALL'],
        CapAdd: [...spec.capabilities],
        PidsLimit: spec.pidsLimit,
        NanoCpus: Math.round(spec.cpuLimit * 1e9),
        Memory: spec.memoryLimitBytes,
        MemoryReservation: spec.memoryReservationBytes,
        // Swap would let a service exceed its hard limit without being killed.
        MemorySwap: spec.memoryLimitBytes,
        RestartPolicy: { Name: 'no' },
        // A process running as PID 1 ignores SIGTERM unless it installs a handler; the
        // engine's init forwards it, so graceful stops work for every image.
        Init: true,
        Privileged: false,
        SecurityOpt: ['no-new-privileges'],
        LogConfig: { Type: 'json-file', Config: { 'max-size': String(spec.logMaxBytes), 'max-file': '1' } },
      },
    });
    return container.id;
  }

  async start(id: string): Promise<void> {
    await tolerating([304], () => this.docker.getContainer(id).start());
    // The container runs either way; a task left unannounced may only be reachable up to 1 s later.
    try {
      await this.neighbours?.announce(id);
    } catch (error) {
      this.onWarning(error instanceof Error ? error : new Error(String(error)));
    }
  }

  async signal(id: string, signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
    await tolerating([404, 409], () => this.docker.getContainer(id).kill({ signal }));
  }

  async remove(id: string): Promise<void> {
    // One removal at a time: parallel removals can deadlock libnetwork in Debian's
    // engine (20.10.24 lacks moby/libnetwork#2679), after which every call on the
    // affected containers hangs until dockerd restarts.
    const removal = this.removals.then(() =>
      // 409: removal already in progress.
      tolerating([404, 409], () => this.docker.getContainer(id).remove({ force: true, v: true })),
    );
    // The caller gets this removal's error; the queue goes on to the next one.
    this.removals = removal.catch(() => undefined);
    await removal;
  }

  async logs(id: string, options: { tail: number; since?: Date }): Promise<LogLine[]> {
    try {
      const output = (await this.docker.getContainer(id).logs({
        stdout: true,
        stderr: true,
        timestamps: true,
        tail: options.tail,
        follow: false,
        ...(options.since ? { since: Math.floor(options.since.getTime() / 1000) } : {}),
      })) as unknown as Buffer;
      return parseLogOutput(output);
    } catch (error) {
      if (statusOf(error) === 404) return [];
      throw error;
    }
  }

  async followLogs(
    id: string,
    options: { tail: number; signal: AbortSignal; onLine: (line: LogLine) => void },
  ): Promise<void> {
    const stream = (await this.streams.getContainer(id).logs({
      stdout: true,
      stderr: true,
      timestamps: true,
      tail: options.tail,
      follow: true,
      abortSignal: options.signal,
    })) as unknown as Readable;
    let pending: Buffer = Buffer.alloc(0);
    let partial = '';
    const onAbort = (): void => {
      stream.destroy();
    };
    options.signal.addEventListener('abort', onAbort, { once: true });
    try {
      for await (const chunk of stream) {
        const { payloads, rest } = splitFrames(Buffer.concat([pending, chunk as Buffer]));
        pending = rest;
        const text = partial + Buffer.concat(payloads).toString('utf8');
        const cut = text.lastIndexOf('\n');
        partial = text.slice(cut + 1);
        for (const line of linesOf(text.slice(0, cut + 1))) options.onLine(line);
      }
    } catch (error) {
      if (!options.signal.aborted) throw error;
    } finally {
      options.signal.removeEventListener('abort', onAbort);
    }
  }

  async imageNames(reference: string): Promise<readonly string[] | null> {
    try {
      const image = await this.docker.getImage(reference).inspect();
      return [...(image.RepoTags ?? []), ...(image.RepoDigests ?? [])];
    } catch (error) {
      if (statusOf(error) === 404) return null;
      throw error;
    }
  }

  async pullImage(reference: string, auth: RegistryAuth | null): Promise<void> {
    const stream = (await this.streams.pull(reference, auth ? { authconfig: auth } : {})) as Readable;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        stream.destroy();
        reject(new RuntimeUnavailableError(`pulling took longer than ${PULL_TIMEOUT_MS / 1000} s`));
      }, PULL_TIMEOUT_MS);
      this.streams.modem.followProgress(stream, (error: Error | null, output: { error?: string }[]) => {
        clearTimeout(timer);
        const failure = error?.message ?? output.find((o) => o.error)?.error;
        if (failure) reject(new RuntimeUnavailableError(`the engine could not pull it: ${failure}`));
        else resolve();
      });
    });
  }

  async removeImage(reference: string): Promise<void> {
    await tolerating([404, 409], () => this.docker.getImage(reference).remove());
  }

  subscribe(labels: Readonly<Record<string, string>>, onEvent: (event: RuntimeEvent) => void): EventSubscription {
    const controller = new AbortController();
    let delivered: () => void = () => {};
    const delivering = new Promise<void>((resolve) => {
      delivered = resolve;
    });
    const ended = this.streamEvents(labels, onEvent, controller.signal, delivered);
    return { delivering, ended, close: () => controller.abort() };
  }

  private async streamEvents(
    labels: Readonly<Record<string, string>>,
    onEvent: (event: RuntimeEvent) => void,
    signal: AbortSignal,
    delivered: () => void,
  ): Promise<void> {
    const stream = (await this.streams.getEvents({
      // The engine sends its answer's headers just before it registers the subscription;
      // replaying the last seconds' events covers that gap (an event seen twice is harmless).
      since: Math.floor(Date.now() / 1000) - EVENT_REPLAY_SECONDS,
      filters: { type: ['container'], label: labelFilters(labels) },
      abortSignal: signal,
    })) as unknown as Readable;
    delivered();
    let partial = '';
    try {
      for await (const chunk of stream) {
        const text = partial + (chunk as Buffer).toString('utf8');
        const lines = text.split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) {
          const event = parseEvent(line);
          if (event) onEvent(event);
        }
      }
    } catch (error) {
      if (!signal.aborted) throw error;
    }
  }

  ensureNetwork(spec: NetworkSpec): Promise<void> {
    return this.networks.ensure(spec);
  }

  removeNetworks(labels: Readonly<Record<string, string>>): Promise<string[]> {
    return this.networks.remove(labels);
  }

  async memoryCapacityBytes(): Promise<number> {
    const info = (await this.docker.info()) as { MemTotal: number };
    return info.MemTotal;
  }
}

function parseEvent(line: string): RuntimeEvent | null {
  if (line.trim() === '') return null;
  const raw = JSON.parse(line) as { Action?: string; id?: string; Actor?: { Attributes?: Record<string, string> }; timeNano?: number };
  // Actions like "exec_start: sh" carry a suffix; only the verb matters.
  const action = (raw.Action ?? '').split(':')[0] as RuntimeEventAction;
  if (!EVENT_ACTIONS.has(action) || !raw.id) return null;
  return {
    action,
    containerId: raw.id,
    labels: raw.Actor?.Attributes ?? {},
    time: new Date(Math.floor((raw.timeNano ?? Date.now() * 1e6) / 1e6)),
  };
}

function firstIp(networks: Record<string, { IPAddress?: string }>): string | null {
  for (const network of Object.values(networks)) {
    if (network.IPAddress) return network.IPAddress;
  }
  return null;
}

function validDate(text: string | undefined): Date | null {
  if (!text || text.startsWith('0001-')) return null;
  const date = new Date(text);
  return Number.isNaN(date.getTime()) ? null : date;
}
