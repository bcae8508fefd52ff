import type {
  ContainerDetails,
  ContainerRuntime,
  ContainerSpec,
  ContainerState,
  ContainerSummary,
  EventSubscription,
  LogLine,
  NetworkSpec,
  RuntimeEvent,
  RuntimeEventAction,
} from '../../src/runtime/container-runtime.js';

interface FakeContainer {
  id: string;
  spec: ContainerSpec;
  state: ContainerState;
  createdAt: Date;
  ip: string | null;
  exitCode: number | null;
  oomKilled: boolean;
  logs: LogLine[];
}

/** An in-memory engine: containers change state only when the test or berth says so. */
export class FakeRuntime implements ContainerRuntime {
  readonly containers = new Map<string, FakeContainer>();
  readonly images = new Set<string>(['demo:1', 'demo:2']);
  /** Images whose tasks exit at once with this code when started. */
  readonly crashOnStart = new Map<string, number>();
  capacityBytes = 4096 * 1024 * 1024;
  private listeners = new Set<(event: RuntimeEvent) => void>();
  private enders = new Set<() => void>();
  subscriptions = 0;
  private nextId = 1;
  private nextIp = 2;

  async ping(): Promise<void> {}

  async list(labels: Readonly<Record<string, string>>): Promise<ContainerSummary[]> {
    return [...this.containers.values()]
      .filter((c) => Object.entries(labels).every(([k, v]) => c.spec.labels[k] === v))
      .map((c) => this.summary(c));
  }

  async inspect(id: string): Promise<ContainerDetails | null> {
    const c = this.containers.get(id);
    if (!c) return null;
    return {
      ...this.summary(c),
      exitCode: c.exitCode,
      oomKilled: c.oomKilled,
      startedAt: c.createdAt,
      finishedAt: c.state === 'exited' ? new Date() : null,
      memoryLimitBytes: c.spec.memoryLimitBytes,
      memoryReservationBytes: c.spec.memoryReservationBytes,
      env: c.spec.env,
      privileged: false,
      securityOptions: ['no-new-privileges'],
      mounts: [],
    };
  }

  async create(spec: ContainerSpec): Promise<string> {
    if (!this.images.has(spec.image)) throw Object.assign(new Error(`no such image ${spec.image}`), { statusCode: 404 });
    const id = `c${this.nextId++}`;
    this.containers.set(id, { id, spec, state: 'created', createdAt: new Date(), ip: null, exitCode: null, oomKilled: false, logs: [] });
    this.emit('create', id);
    return id;
  }

  async start(id: string): Promise<void> {
    const c = this.must(id);
    if (c.state === 'running') return;
    c.state = 'running';
    c.ip = `10.0.0.${this.nextIp++}`;
    c.logs.push({ time: new Date(), message: `started ${c.spec.name}` });
    this.emit('start', id);
    const code = this.crashOnStart.get(c.spec.image);
    if (code !== undefined) this.exit(id, code);
  }

  async signal(id: string, signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
    const c = this.containers.get(id);
    if (!c || c.state !== 'running') return;
    this.exit(id, signal === 'SIGTERM' ? 143 : 137);
  }

  async remove(id: string): Promise<void> {
    if (this.containers.delete(id)) this.emit('destroy', id);
  }

  async logs(id: string, options: { tail: number }): Promise<LogLine[]> {
    return (this.containers.get(id)?.logs ?? []).slice(-options.tail);
  }

  async followLogs(id: string, options: { tail: number; signal: AbortSignal; onLine: (line: LogLine) => void }): Promise<void> {
    for (const line of await this.logs(id, options)) options.onLine(line);
  }

  /** Networks made with ensureNetwork, by name, with their labels. */
  readonly networks = new Map<string, Readonly<Record<string, string>>>();

  async ensureNetwork(spec: NetworkSpec): Promise<void> {
    if (!this.networks.has(spec.name)) this.networks.set(spec.name, spec.labels);
  }

  async removeNetworks(labels: Readonly<Record<string, string>>): Promise<string[]> {
    for (const [name, held] of this.networks) {
      if (Object.entries(labels).every(([k, v]) => held[k] === v)) this.networks.delete(name);
    }
    return [];
  }

  async imageNames(reference: string): Promise<readonly string[] | null> {
    return this.images.has(reference) ? [reference] : null;
  }

  async pullImage(reference: string): Promise<void> {
    throw new Error(`pull access denied for ${reference}`);
  }

  async removeImage(reference: string): Promise<void> {
    this.images.delete(reference);
  }

  subscribe(_labels: Readonly<Record<string, string>>, onEvent: (event: RuntimeEvent) => void): EventSubscription {
    this.subscriptions++;
    this.listeners.add(onEvent);
    let end: () => void = () => {};
    const ended = new Promise<void>((resolve) => {
      end = () => {
        this.listeners.delete(onEvent);
        this.enders.delete(end);
        resolve();
      };
    });
    this.enders.add(end);
    return { delivering: Promise.resolve(), ended, close: () => end() };
  }

  /** The engine restarts: every event stream ends. */
  endEventStreams(): void {
    for (const end of [...this.enders]) end();
  }

  async memoryCapacityBytes(): Promise<number> {
    return this.capacityBytes;
  }

  /** The process in the container ends (a crash, or an OOM kill). */
  exit(id: string, code: number, oom = false): void {
    const c = this.must(id);
    c.state = 'exited';
    c.exitCode = code;
    c.oomKilled = oom;
    c.ip = null;
    c.logs.push({ time: new Date(), message: `exiting with ${code}` });
    this.emit('die', id);
  }

  /** A container started by something other than berth, e.g. another instance. */
  addForeign(labels: Record<string, string>): string {
    const id = `foreign${this.nextId++}`;
    this.containers.set(id, {
      id,
      spec: { ...FAKE_SPEC, name: id, labels },
      state: 'running',
      createdAt: new Date(),
      ip: '10.9.9.9',
      exitCode: null,
      oomKilled: false,
      logs: [],
    });
    return id;
  }

  running(labels: Record<string, string> = {}): FakeContainer[] {
    return [...this.containers.values()].filter(
      (c) => c.state === 'running' && Object.entries(labels).every(([k, v]) => c.spec.labels[k] === v),
    );
  }

  private summary(c: FakeContainer): ContainerSummary {
    return { id: c.id, name: c.spec.name, image: c.spec.image, labels: c.spec.labels, state: c.state, createdAt: c.createdAt, ip: c.ip };
  }

  private must(id: string): FakeContainer {
    const c = this.containers.get(id);
    if (!c) throw Object.assign(new Error(`no such container ${id}`), { statusCode: 404 });
    return c;
  }

  private emit(action: RuntimeEventAction, id: string): void {
    const labels = this.containers.get(id)?.spec.labels ?? {};
    for (const listener of this.listeners) listener({ action, containerId: id, labels, time: new Date() });
  }
}

/** A spec with nothing of interest, for containers a test makes directly. */
export const FAKE_SPEC: ContainerSpec = {
  name: 'fake',
  image: 'demo:1',
  labels: {},
  env: [],
  command: null,
  memoryLimitBytes: 0,
  memoryReservationBytes: 0,
  logMaxBytes: 0,
  network: 'berth-test',
  capabilities: [],
  pidsLimit: 512,
  cpuLimit: 1,
};
