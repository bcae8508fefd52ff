import type { Readable } from 'node:stream';
import type {
  EventSubscription,
  LogLine,
  NetworkSpec,
  NodeInfo,
  TaskDetails,
  TaskEvent,
  TaskEventKind,
  TaskRuntime,
  TaskSpec,
  TaskState,
  TaskSummary,
  VolumeSpec,
} from '../../src/runtime/task-runtime.js';

export interface FakeContainer {
  id: string;
  spec: TaskSpec;
  state: TaskState;
  createdAt: Date;
  finishedAt: Date | null;
  address: string | null;
  exitCode: number | null;
  oomKilled: boolean;
  logs: LogLine[];
  /** Its node is being drained (Swarm). */
  evicted?: boolean;
  /** Its node went down (Swarm): why it ended. */
  lost?: string;
}

/** What a task does once started, as a test scripts it: lines to print, and how it ends (or not). */
export interface Script {
  readonly lines?: readonly string[];
  readonly exitCode?: number;
  readonly oom?: boolean;
}

/** An in-memory runtime: tasks change state only when the test or berth says so. */
export class FakeRuntime implements TaskRuntime {
  readonly containers = new Map<string, FakeContainer>();
  readonly images = new Set<string>(['demo:1', 'demo:2']);
  /** Images whose tasks exit at once with this code when started. */
  readonly crashOnStart = new Map<string, number>();
  /** Decides what a started task does, from its spec; null: it runs until stopped. */
  script: (spec: TaskSpec) => Script | null = () => null;
  /** Networks made with ensureNetwork, by name, with their labels. */
  readonly networks = new Map<string, Readonly<Record<string, string>>>();
  readonly volumes = new Map<string, Readonly<Record<string, string>>>();
  capacityBytes = 4096 * 1024 * 1024;
  /** The clock exits are stamped with; a test with a manual clock sets it. */
  now: () => number = () => Date.now();
  subscriptions = 0;
  private listeners = new Set<(event: TaskEvent) => void>();
  private enders = new Set<() => void>();
  private followers = new Map<string, Set<{ onLine: (line: LogLine) => void; done: () => void }>>();
  private nextId = 1;
  private nextIp = 2;

  async ping(): Promise<void> {}

  async listTasks(labels: Readonly<Record<string, string>>): Promise<TaskSummary[]> {
    return [...this.containers.values()].filter((c) => matches(c.spec.labels, labels)).map((c) => this.summary(c));
  }

  async inspectTask(id: string): Promise<TaskDetails | null> {
    const c = this.containers.get(id);
    if (!c) return null;
    return {
      ...this.summary(c),
      exitCode: c.exitCode,
      oomKilled: c.oomKilled,
      startedAt: c.createdAt,
      finishedAt: c.finishedAt,
      memoryLimitBytes: c.spec.memoryLimitBytes,
      memoryReservationBytes: c.spec.memoryReservationBytes,
      env: c.spec.env,
      privileged: false,
      securityOptions: ['no-new-privileges'],
      mounts: [],
      lost: c.lost ?? null,
    };
  }

  async createTask(spec: TaskSpec): Promise<string> {
    if (!this.images.has(spec.image)) throw Object.assign(new Error(`no such image ${spec.image}`), { statusCode: 404 });
    const id = `c${this.nextId++}`;
    this.containers.set(id, { id, spec, state: 'created', createdAt: new Date(this.now()), finishedAt: null, address: null, exitCode: null, oomKilled: false, logs: [] });
    this.emit('created', id);
    return id;
  }

  async startTask(id: string): Promise<void> {
    const c = this.must(id);
    if (c.state === 'running') return;
    c.state = 'running';
    c.address = `10.0.0.${this.nextIp++}`;
    this.say(id, `started ${c.spec.name}`);
    this.emit('started', id);
    const code = this.crashOnStart.get(c.spec.image);
    if (code !== undefined) {
      this.exit(id, code);
      return;
    }
    const script = this.script(c.spec);
    for (const line of script?.lines ?? []) this.say(id, line);
    if (script?.exitCode !== undefined) this.exit(id, script.exitCode, script.oom ?? false);
  }

  async signalTask(id: string, signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
    const c = this.containers.get(id);
    if (!c || c.state !== 'running') return;
    this.exit(id, signal === 'SIGTERM' ? 143 : 137);
  }

  async removeTask(id: string): Promise<void> {
    if (!this.containers.has(id)) return;
    this.endFollowers(id);
    this.containers.delete(id);
    this.emit('removed', id);
  }

  async taskLogs(id: string, options: { tail: number }): Promise<LogLine[]> {
    return (this.containers.get(id)?.logs ?? []).slice(-options.tail);
  }

  async followTaskLogs(id: string, options: { tail: number; signal: AbortSignal; onLine: (line: LogLine) => void }): Promise<void> {
    const c = this.containers.get(id);
    for (const line of (c?.logs ?? []).slice(-options.tail)) options.onLine(line);
    if (!c || c.state !== 'running' || options.signal.aborted) return;
    await new Promise<void>((resolve) => {
      const follower = { onLine: options.onLine, done: resolve };
      const set = this.followers.get(id) ?? new Set();
      set.add(follower);
      this.followers.set(id, set);
      options.signal.addEventListener('abort', () => {
        set.delete(follower);
        resolve();
      });
    });
  }

  async ensureNetwork(spec: NetworkSpec): Promise<void> {
    if (!this.networks.has(spec.name)) this.networks.set(spec.name, spec.labels);
  }

  async removeNetworks(labels: Readonly<Record<string, string>>): Promise<string[]> {
    for (const [name, held] of this.networks) if (matches(held, labels)) this.networks.delete(name);
    return [];
  }

  /** Files written into tasks, by task id and path. */
  readonly files = new Map<string, Buffer>();

  async copyFileInto(id: string, path: string, source: { readonly stream: Readable; readonly size: number }): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of source.stream) chunks.push(chunk as Buffer);
    this.files.set(`${id}:${path}`, Buffer.concat(chunks));
  }

  async ensureVolume(spec: VolumeSpec): Promise<void> {
    if (!this.volumes.has(spec.name)) this.volumes.set(spec.name, spec.labels);
  }

  async removeVolumes(labels: Readonly<Record<string, string>>): Promise<string[]> {
    for (const [name, held] of this.volumes) if (matches(held, labels)) this.volumes.delete(name);
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

  subscribe(_labels: Readonly<Record<string, string>>, onEvent: (event: TaskEvent) => void): EventSubscription {
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

  /** The runtime restarts: every event stream ends. */
  endEventStreams(): void {
    for (const end of [...this.enders]) end();
  }

  async nodes(): Promise<NodeInfo[]> {
    return [{ id: 'fake', name: 'fake', memoryBytes: this.capacityBytes }];
  }

  /** The task prints a line. */
  say(id: string, message: string): void {
    const line = { time: new Date(this.now()), message };
    this.must(id).logs.push(line);
    for (const follower of this.followers.get(id) ?? []) follower.onLine(line);
  }

  /** The process in the task ends (a crash, or an OOM kill). */
  exit(id: string, code: number, oom = false): void {
    const c = this.must(id);
    this.say(id, `exiting with ${code}`);
    c.state = 'exited';
    c.exitCode = code;
    c.oomKilled = oom;
    c.address = null;
    c.finishedAt = new Date(this.now());
    this.endFollowers(id);
    this.emit('exited', id);
  }

  /** A task started by something other than berth, e.g. another instance. */
  addForeign(labels: Record<string, string>): string {
    const id = `foreign${this.nextId++}`;
    this.containers.set(id, {
      id,
      spec: { ...FAKE_SPEC, name: id, labels },
      state: 'running',
      createdAt: new Date(this.now()),
      finishedAt: null,
      address: '10.9.9.9',
      exitCode: null,
      oomKilled: false,
      logs: [],
    });
    return id;
  }

  running(labels: Record<string, string> = {}): FakeContainer[] {
    return [...this.containers.values()].filter((c) => c.state === 'running' && matches(c.spec.labels, labels));
  }

  /** Its node is being drained: berth is to move it (what Swarm's adapter reports). */
  evict(id: string): void {
    this.must(id).evicted = true;
    this.emit('health', id);
  }

  /** Its node goes down: it ends without an exit code of its own (what Swarm's adapter reports). */
  lose(id: string, reason: string): void {
    const c = this.must(id);
    c.state = 'exited';
    c.address = null;
    c.lost = reason;
    c.finishedAt = new Date(this.now());
    this.endFollowers(id);
    this.emit('exited', id);
  }

  private summary(c: FakeContainer): TaskSummary {
    return {
      id: c.id,
      name: c.spec.name,
      image: c.spec.image,
      labels: c.spec.labels,
      state: c.state,
      createdAt: c.createdAt,
      address: c.address,
      health: null,
      ...(c.evicted ? { evicted: true } : {}),
    };
  }

  private must(id: string): FakeContainer {
    const c = this.containers.get(id);
    if (!c) throw Object.assign(new Error(`no such container ${id}`), { statusCode: 404 });
    return c;
  }

  private endFollowers(id: string): void {
    for (const follower of this.followers.get(id) ?? []) follower.done();
    this.followers.delete(id);
  }

  private emit(kind: TaskEventKind, id: string): void {
    const labels = this.containers.get(id)?.spec.labels ?? {};
    for (const listener of this.listeners) listener({ kind, taskId: id, labels, time: new Date(this.now()) });
  }
}

function matches(held: Readonly<Record<string, string>>, wanted: Readonly<Record<string, string>>): boolean {
  return Object.entries(wanted).every(([k, v]) => held[k] === v);
}

/** A spec with nothing of interest, for tasks a test makes directly. */
export const FAKE_SPEC: TaskSpec = {
  name: 'fake',
  image: 'demo:1',
  labels: {},
  env: [],
  command: null,
  memoryLimitBytes: 0,
  memoryReservationBytes: 0,
  logMaxBytes: 0,
  networks: [{ name: 'berth-test', aliases: [] }],
  capabilities: [],
  pidsLimit: 512,
  cpuLimit: 1,
  mounts: [],
};
