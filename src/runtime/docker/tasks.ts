import type Docker from 'dockerode';
import { posix } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { pack } from 'tar-stream';
import { RuntimeUnavailableError } from '../../domain/errors.js';
import type { HostPort, LogLine, NetworkAttachment, TaskDetails, TaskHealthcheck, TaskSpec, TaskState, TaskSummary } from '../task-runtime.js';
import { engineCall, statusOf, tolerating, wrapEngineError } from './engine-errors.js';
import { logOptions, readFollowedLines, readLogOutput } from './log-frames.js';

/** The engine's container states in berth's words. */
export function taskStateOf(engineState: string): TaskState {
  switch (engineState) {
    case 'running':
    case 'paused':
      return 'running';
    case 'created':
    case 'restarting':
      return 'created';
    case 'removing':
      return 'removing';
    default:
      return 'exited';
  }
}

/** Tasks as the engine's containers. */
export class DockerTasks {
  private removals: Promise<void> = Promise.resolve();

  constructor(
    /** For request/answer calls: a hung engine must not hang a reconcile pass. */
    private readonly docker: Docker,
    /** For streams that are quiet for long on purpose (followed logs). */
    private readonly streams: Docker,
  ) {}

  async list(labels: Readonly<Record<string, string>>): Promise<TaskSummary[]> {
    const containers = await engineCall('list containers', () =>
      this.docker.listContainers({ all: true, filters: { label: labelFilters(labels) } }),
    );
    return containers.map((c) => ({
      id: c.Id,
      name: (c.Names[0] ?? '').replace(/^\//, ''),
      image: c.Image,
      labels: c.Labels,
      state: taskStateOf(c.State),
      createdAt: new Date(c.Created * 1000),
      address: firstAddress(c.NetworkSettings?.Networks ?? {}),
      health: healthOfStatus(c.Status),
    }));
  }

  async inspect(id: string): Promise<TaskDetails | null> {
    let info: Docker.ContainerInspectInfo;
    try {
      info = await this.docker.getContainer(id).inspect();
    } catch (error) {
      if (statusOf(error) === 404) return null;
      throw wrapEngineError(`inspect container ${id.slice(0, 12)}`, error);
    }
    const state = info.State;
    return {
      id: info.Id,
      name: info.Name.replace(/^\//, ''),
      image: info.Config.Image,
      labels: info.Config.Labels ?? {},
      state: taskStateOf(state.Status),
      createdAt: new Date(info.Created),
      address: state.Running ? firstAddress(info.NetworkSettings.Networks) : null,
      health: healthOf((state as { Health?: { Status?: string } }).Health?.Status),
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

  async create(spec: TaskSpec): Promise<string> {
    const [first, ...others] = spec.networks;
    if (!first) throw new RuntimeUnavailableError(`task ${spec.name} names no network`);
    const container = await engineCall(`create container ${spec.name}`, () => this.docker.createContainer(containerOptions(spec, first)));
    // The engine attaches one network at creation; the others are connected before the start.
    for (const network of others) {
      await engineCall(`connect container ${spec.name} to network ${network.name}`, () =>
        this.docker.getNetwork(network.name).connect({ Container: container.id, EndpointConfig: { Aliases: [...network.aliases] } }),
      );
    }
    return container.id;
  }

  async start(id: string): Promise<void> {
    await engineCall(`start container ${id.slice(0, 12)}`, () => tolerating([304], () => this.docker.getContainer(id).start()));
  }

  async signal(id: string, signal: string): Promise<void> {
    await engineCall(`signal container ${id.slice(0, 12)}`, () => tolerating([404, 409], () => this.docker.getContainer(id).kill({ signal })));
  }

  async remove(id: string): Promise<void> {
    // One removal at a time: parallel removals can deadlock libnetwork in Debian's
    // engine (20.10.24 lacks moby/libnetwork#2679), after which every call on the
    // affected containers hangs until dockerd restarts.
    const removal = this.removals.then(() =>
      engineCall(`remove container ${id.slice(0, 12)}`, () =>
        // 409: removal already in progress.
        tolerating([404, 409], () => this.docker.getContainer(id).remove({ force: true, v: true })),
      ),
    );
    // The caller gets this removal's error; the queue goes on to the next one.
    this.removals = removal.catch(() => undefined);
    await removal;
  }

  logs(id: string, options: { tail: number; since?: Date }): Promise<LogLine[]> {
    return readLogOutput(() => this.docker.getContainer(id).logs(logOptions(options)), `read the logs of container ${id.slice(0, 12)}`);
  }

  async followLogs(id: string, options: { tail: number; signal: AbortSignal; onLine: (line: LogLine) => void }): Promise<void> {
    let stream: Readable;
    try {
      stream = (await this.streams.getContainer(id).logs({
        stdout: true,
        stderr: true,
        timestamps: true,
        tail: options.tail,
        follow: true,
        abortSignal: options.signal,
      })) as unknown as Readable;
    } catch (error) {
      // Removed before the stream began: it has nothing more to say.
      if (statusOf(error) === 404 || options.signal.aborted) return;
      throw wrapEngineError(`follow the logs of container ${id.slice(0, 12)}`, error);
    }
    await readFollowedLines(stream, options.signal, options.onLine, `follow the logs of container ${id.slice(0, 12)}`);
  }

  /** A one-file tar archive, which the engine unpacks into the task's filesystem (its volumes included). */
  async copyFileInto(id: string, path: string, source: { readonly stream: Readable; readonly size: number }): Promise<void> {
    const archive = pack();
    const entry = archive.entry({ name: posix.basename(path), size: source.size, mode: 0o644, uid: 0, gid: 0, mtime: new Date() });
    const writing = pipeline(source.stream, entry).then(() => archive.finalize());
    await engineCall(`copy ${path} into container ${id.slice(0, 12)}`, async () => {
      await Promise.all([this.streams.getContainer(id).putArchive(archive as unknown as NodeJS.ReadableStream, { path: posix.dirname(path) }), writing]);
    });
  }
}

/** The engine's options for a task: berth's isolation always, a compose file's extras when given. */
function containerOptions(spec: TaskSpec, network: NetworkAttachment): Docker.ContainerCreateOptions {
  const extra = spec.extra;
  const ports = extra?.hostPorts ?? [];
  return {
    name: spec.name,
    Image: spec.image,
    Labels: { ...spec.labels },
    Env: [...spec.env],
    ...(spec.command ? { Cmd: [...spec.command] } : {}),
    ...(extra?.entrypoint ? { Entrypoint: [...extra.entrypoint] } : {}),
    ...(extra?.workingDir ? { WorkingDir: extra.workingDir } : {}),
    ...(extra?.user ? { User: extra.user } : {}),
    ...(extra?.hostname ? { Hostname: extra.hostname } : {}),
    ...(extra?.stopSignal ? { StopSignal: extra.stopSignal } : {}),
    ...(extra?.stopGraceSeconds != null ? { StopTimeout: Math.ceil(extra.stopGraceSeconds) } : {}),
    ...(extra?.healthcheck ? { Healthcheck: engineHealthcheck(extra.healthcheck) } : {}),
    ...(ports.length > 0 ? { ExposedPorts: Object.fromEntries(ports.map((p) => [`${p.containerPort}/${p.protocol}`, {}])) } : {}),
    HostConfig: {
      NetworkMode: network.name,
      CapDrop: ['ALL'],
      CapAdd: [...spec.capabilities],
      PidsLimit: spec.pidsLimit,
      NanoCpus: Math.round(spec.cpuLimit * 1e9),
      Memory: spec.memoryLimitBytes,
      MemoryReservation: spec.memoryReservationBytes,
      // Swap would let a task exceed its hard limit without being killed.
      MemorySwap: spec.memoryLimitBytes,
      RestartPolicy: { Name: 'no' },
      // A process running as PID 1 ignores SIGTERM unless it installs a handler; the
      // engine's init forwards it, so graceful stops work for every image.
      Init: extra?.init ?? true,
      Privileged: false,
      SecurityOpt: ['no-new-privileges'],
      Mounts: spec.mounts
        .filter((m) => m.kind !== 'tmpfs')
        .map((m) => ({ Type: m.kind as 'volume' | 'bind', Source: m.source, Target: m.target, ReadOnly: m.readOnly })),
      Tmpfs: Object.fromEntries(spec.mounts.filter((m) => m.kind === 'tmpfs').map((m) => [m.target, ''])),
      ...(ports.length > 0
        ? { PortBindings: groupPorts(ports) }
        : {}),
      ...(extra && extra.ulimits.length > 0 ? { Ulimits: extra.ulimits.map((u) => ({ Name: u.name, Soft: u.soft, Hard: u.hard })) } : {}),
      ...(extra && extra.extraHosts.length > 0 ? { ExtraHosts: [...extra.extraHosts] } : {}),
      LogConfig: { Type: 'json-file', Config: { 'max-size': String(spec.logMaxBytes), 'max-file': '1' } },
    },
    NetworkingConfig: { EndpointsConfig: { [network.name]: { Aliases: [...network.aliases] } } },
  };
}

function groupPorts(ports: readonly HostPort[]): Record<string, { HostIp?: string; HostPort: string }[]> {
  const bindings: Record<string, { HostIp?: string; HostPort: string }[]> = {};
  for (const p of ports) {
    const key = `${p.containerPort}/${p.protocol}`;
    (bindings[key] ??= []).push({ ...(p.hostIp ? { HostIp: p.hostIp } : {}), HostPort: p.hostPort === 0 ? '' : String(p.hostPort) });
  }
  return bindings;
}

const NS = 1e9;

export function engineHealthcheck(check: TaskHealthcheck): { Test: string[]; Interval: number; Timeout: number; Retries: number; StartPeriod: number } {
  return {
    Test: [...check.test],
    Interval: Math.round(check.intervalSeconds * NS),
    Timeout: Math.round(check.timeoutSeconds * NS),
    Retries: check.retries,
    StartPeriod: Math.round(check.startPeriodSeconds * NS),
  };
}

/** The engine's health in berth's words; null when the task has no health check. */
function healthOf(status: string | undefined): TaskSummary['health'] {
  return status === 'healthy' || status === 'unhealthy' || status === 'starting' ? status : null;
}

/** A container listing's status line ("Up 5 seconds (healthy)", "(health: starting)") as health. */
function healthOfStatus(status: string | undefined): TaskSummary['health'] {
  if (!status) return null;
  if (status.includes('(healthy)')) return 'healthy';
  if (status.includes('(unhealthy)')) return 'unhealthy';
  if (status.includes('(health: starting)')) return 'starting';
  return null;
}

export function labelFilters(labels: Readonly<Record<string, string>>): string[] {
  return Object.entries(labels).map(([k, v]) => `${k}=${v}`);
}

function firstAddress(networks: Record<string, { IPAddress?: string }>): string | null {
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
