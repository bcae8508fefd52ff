/**
 * The TaskRuntime port: everything the reconciler needs from an orchestrator, in berth's own
 * terms — tasks (one running copy of a workload), the images they run, the networks and
 * volumes they use and the nodes they run on. The Docker engine adapter lives in ./docker;
 * a Swarm adapter is a second implementation of the same port. No engine library type, state
 * name or error crosses it: adapters answer berth's states and throw berth's errors.
 */

import type { Readable } from 'node:stream';
import type { LogLine } from '../domain/observed.js';

export type { LogLine } from '../domain/observed.js';

/** created: made, not started yet; running; exited: its process ended; removing: on its way out. */
export type TaskState = 'created' | 'running' | 'exited' | 'removing';

export interface TaskSpec {
  readonly name: string;
  readonly image: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly env: readonly string[];
  readonly command: readonly string[] | null;
  readonly memoryLimitBytes: number;
  readonly memoryReservationBytes: number;
  /** Cap on the runtime's own log file for the task. */
  readonly logMaxBytes: number;
  /** The networks the task joins (made with ensureNetwork), each with the names it answers to there; it joins no other. */
  readonly networks: readonly NetworkAttachment[];
  /** The only capabilities the task keeps; every other one is dropped. */
  readonly capabilities: readonly string[];
  readonly pidsLimit: number;
  /** CPU cores (fractions allowed). */
  readonly cpuLimit: number;
  /** Volumes made with ensureVolume, host paths (already checked against policy) and tmpfs, at their targets. */
  readonly mounts: readonly Mount[];
  /** What a compose file may set besides; absent for a plain service's task. */
  readonly extra?: TaskExtras;
  /**
   * The task's ports the gateway and the prober reach. A runtime whose tasks' own addresses
   * the gateway cannot reach (Swarm, on other machines) publishes them on the task's node.
   */
  readonly servedPorts?: readonly number[];
  /**
   * berth runs commands in the task and copies files into it (a database's): a runtime whose
   * engine does not reach every machine (Swarm) runs it on berth's own.
   */
  readonly local?: boolean;
  /** Where the task may run (domain/placement.ts's constraint expressions, as Swarm writes them); none: anywhere. */
  readonly constraints?: readonly string[];
  /** What a machine that runs the task and lacks its image pulls it with; null: anonymously. */
  readonly pullAuth?: RegistryAuth | null;
}

export interface NetworkAttachment {
  readonly name: string;
  readonly aliases: readonly string[];
}

export interface Mount {
  readonly kind: 'volume' | 'bind' | 'tmpfs';
  /** A volume's name, or an absolute host path; empty for tmpfs. */
  readonly source: string;
  /** Absolute path inside the task. */
  readonly target: string;
  readonly readOnly: boolean;
}

/** A health check the runtime runs inside the task (a compose `healthcheck`). */
export interface TaskHealthcheck {
  readonly test: readonly string[];
  readonly intervalSeconds: number;
  readonly timeoutSeconds: number;
  readonly retries: number;
  readonly startPeriodSeconds: number;
}

export interface HostPort {
  readonly containerPort: number;
  /** 0: any free port. */
  readonly hostPort: number;
  readonly hostIp: string | null;
  readonly protocol: 'tcp' | 'udp';
}

export interface TaskExtras {
  readonly entrypoint: readonly string[] | null;
  readonly workingDir: string | null;
  readonly user: string | null;
  readonly hostname: string | null;
  readonly healthcheck: TaskHealthcheck | null;
  readonly hostPorts: readonly HostPort[];
  readonly stopSignal: string | null;
  readonly stopGraceSeconds: number | null;
  readonly init: boolean;
  readonly ulimits: readonly { readonly name: string; readonly soft: number; readonly hard: number }[];
  readonly extraHosts: readonly string[];
}

export interface TaskSummary {
  readonly id: string;
  readonly name: string;
  readonly image: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly state: TaskState;
  readonly createdAt: Date;
  /** Where the gateway and the prober reach the task; only while it runs. */
  readonly address: string | null;
  /** The runtime's own health check's verdict; null when the task has none. */
  readonly health: 'starting' | 'healthy' | 'unhealthy' | null;
  /** The id of the node it runs on; null while it is not placed. Absent: the runtime's one node. */
  readonly node?: string | null;
  /** Where `address` serves each of its served ports, when not at the port itself (published on its node). */
  readonly ports?: Readonly<Record<number, number>>;
  /** Why a created task does not run yet, in the runtime's words (no node has room, its image is pulled…). */
  readonly waiting?: string | null;
  /** Its node is being drained: the task is to be replaced elsewhere, then stopped. */
  readonly evicted?: boolean;
}

export interface TaskDetails extends TaskSummary {
  readonly exitCode: number | null;
  readonly oomKilled: boolean;
  readonly startedAt: Date | null;
  readonly finishedAt: Date | null;
  readonly memoryLimitBytes: number;
  readonly memoryReservationBytes: number;
  readonly env: readonly string[];
  readonly privileged: boolean;
  readonly securityOptions: readonly string[];
  readonly mounts: readonly string[];
  /** Why it ended when its process did not say (its node went down, the runtime refused it); null otherwise. */
  readonly lost?: string | null;
}

/** What happened to a task: made, started, its process ended, killed for memory, removed, its health check changed. */
export type TaskEventKind = 'created' | 'started' | 'exited' | 'oom' | 'removed' | 'health';

export interface TaskEvent {
  readonly kind: TaskEventKind;
  readonly taskId: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly time: Date;
}

export interface RegistryAuth {
  readonly username: string;
  readonly password: string;
  readonly serveraddress: string;
}

export interface EventSubscription {
  /** Resolves once the runtime delivers events to this subscription; never rejects (see `ended`). */
  readonly delivering: Promise<void>;
  /** Settles when the stream ends: resolves on close() or a runtime restart, rejects with the error that broke it. */
  readonly ended: Promise<void>;
  close(): void;
}

export interface NetworkSpec {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
}

export interface VolumeSpec {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
}

/** A machine tasks run on, and the memory it offers them. */
export interface NodeInfo {
  readonly id: string;
  readonly name: string;
  readonly memoryBytes: number;
  /** Whether new tasks may be placed on it (ready and active); absent: yes. */
  readonly schedulable?: boolean;
  /** What placement constraints match (node.id, node.hostname, node.role, node.labels.*, engine.labels.*…). */
  readonly attributes?: Readonly<Record<string, string>>;
}

export interface TaskRuntime {
  /** Tasks in every state whose labels include all of `labels`. */
  listTasks(labels: Readonly<Record<string, string>>): Promise<TaskSummary[]>;
  /** null when the task no longer exists. */
  inspectTask(id: string): Promise<TaskDetails | null>;
  createTask(spec: TaskSpec): Promise<string>;
  startTask(id: string): Promise<void>;
  /** Sends a signal; a task that is already gone or stopped is not an error. */
  signalTask(id: string, signal: string): Promise<void>;
  /** Removes the task, killing it if it still runs; a missing task is not an error. */
  removeTask(id: string): Promise<void>;
  /** A task that no longer exists has no lines. */
  taskLogs(id: string, options: { tail: number; since?: Date }): Promise<LogLine[]>;
  /** Streams log lines as they are written until the signal aborts or the task is removed. */
  followTaskLogs(id: string, options: { tail: number; signal: AbortSignal; onLine: (line: LogLine) => void }): Promise<void>;
  /** Writes one file into a task, made or running (onto its volume, say), owned by root with mode 0644. */
  copyFileInto(id: string, path: string, source: { readonly stream: Readable; readonly size: number }): Promise<void>;
  /** Events of tasks carrying `labels`. */
  subscribe(labels: Readonly<Record<string, string>>, onEvent: (event: TaskEvent) => void): EventSubscription;

  /**
   * The names (tags and digests) of the image the runtime resolves `reference` to, or null
   * when it has none. A runtime may also resolve an image id prefix, so the caller checks
   * that the reference is among the names before it trusts the image.
   */
  imageNames(reference: string): Promise<readonly string[] | null>;
  pullImage(reference: string, auth: RegistryAuth | null): Promise<void>;
  /** Removes an image reference; one still in use or already gone is not an error. */
  removeImage(reference: string): Promise<void>;

  /**
   * Makes a private network unless one of that name exists. Tasks on it reach each other,
   * and the gateway reaches them; tasks on other networks do not.
   */
  ensureNetwork(spec: NetworkSpec): Promise<void>;
  /** Removes the networks carrying `labels`; one still in use is left, and named in the answer. */
  removeNetworks(labels: Readonly<Record<string, string>>): Promise<string[]>;

  /** Makes a named volume unless one of that name exists; its data outlives every task. */
  ensureVolume(spec: VolumeSpec): Promise<void>;
  /** Removes the volumes carrying `labels`, data and all; one still in use is left, and named in the answer. */
  removeVolumes(labels: Readonly<Record<string, string>>): Promise<string[]>;

  /** The machines tasks may run on. */
  nodes(): Promise<NodeInfo[]>;
  ping(): Promise<void>;
}

export function isAlive(task: Pick<TaskSummary, 'state'>): boolean {
  return task.state === 'running' || task.state === 'created';
}

/** The port `task.address` serves a container port on. */
export function reachPort(task: Pick<TaskSummary, 'ports'>, containerPort: number): number {
  return task.ports?.[containerPort] ?? containerPort;
}
