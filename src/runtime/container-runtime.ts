/**
 * The ContainerRuntime port: everything the reconciler needs from an engine,
 * in berth's own types. The Docker adapter lives in ./docker; tests use an
 * in-memory fake. No engine library type crosses this boundary.
 */
export type ContainerState = 'created' | 'running' | 'restarting' | 'paused' | 'exited' | 'dead' | 'removing';

export interface ContainerSpec {
  readonly name: string;
  readonly image: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly env: readonly string[];
  readonly command: readonly string[] | null;
  readonly memoryLimitBytes: number;
  readonly memoryReservationBytes: number;
  /** Cap on the engine's own log file for the container. */
  readonly logMaxBytes: number;
  /** The network the container joins, made with ensureNetwork; it joins no other. */
  readonly network: string;
  /** The only capabilities the container keeps; every other one is dropped. */
  readonly capabilities: readonly string[];
  readonly pidsLimit: number;
  /** CPU cores (fractions allowed). */
  readonly cpuLimit: number;
}

export interface NetworkSpec {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
}

export interface ContainerSummary {
  readonly id: string;
  readonly name: string;
  readonly image: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly state: ContainerState;
  readonly createdAt: Date;
  /** Address on the engine's network, when it has one (only while running). */
  readonly ip: string | null;
}

export interface ContainerDetails extends ContainerSummary {
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
}

export interface LogLine {
  readonly time: Date;
  readonly message: string;
}

export type RuntimeEventAction = 'create' | 'start' | 'die' | 'oom' | 'destroy' | 'kill' | 'stop';

export interface RuntimeEvent {
  readonly action: RuntimeEventAction;
  readonly containerId: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly time: Date;
}

export interface RegistryAuth {
  readonly username: string;
  readonly password: string;
  readonly serveraddress: string;
}

export interface EventSubscription {
  /** Resolves once the engine delivers events to this subscription; never rejects (see `ended`). */
  readonly delivering: Promise<void>;
  /** Resolves when the stream ends (engine restart, network error, or close()). */
  readonly ended: Promise<void>;
  close(): void;
}

export interface ContainerRuntime {
  /** Containers in every state whose labels include all of `labels`. */
  list(labels: Readonly<Record<string, string>>): Promise<ContainerSummary[]>;
  /** null when the container no longer exists. */
  inspect(id: string): Promise<ContainerDetails | null>;
  create(spec: ContainerSpec): Promise<string>;
  start(id: string): Promise<void>;
  /** Sends a signal; a container that is already gone or stopped is not an error. */
  signal(id: string, signal: 'SIGTERM' | 'SIGKILL'): Promise<void>;
  /** Removes the container, force-killing it if it still runs; a missing container is not an error. */
  remove(id: string): Promise<void>;
  logs(id: string, options: { tail: number; since?: Date }): Promise<LogLine[]>;
  /** Streams log lines as they are written until the signal aborts. */
  followLogs(id: string, options: { tail: number; signal: AbortSignal; onLine: (line: LogLine) => void }): Promise<void>;
  /**
   * The names (RepoTags and RepoDigests) of the image the engine resolves `reference` to, or
   * null when it has none. The engine also resolves an image id prefix, so the caller checks
   * that the reference is among the names before it trusts the image.
   */
  imageNames(reference: string): Promise<readonly string[] | null>;
  pullImage(reference: string, auth: RegistryAuth | null): Promise<void>;
  /** Removes an image reference; one still in use or already gone is not an error. */
  removeImage(reference: string): Promise<void>;
  /** Container events for containers carrying `labels`. */
  subscribe(labels: Readonly<Record<string, string>>, onEvent: (event: RuntimeEvent) => void): EventSubscription;
  /**
   * Makes a private bridge network unless one of that name exists. Containers on it reach
   * each other, and the host reaches them; containers on other networks do not.
   */
  ensureNetwork(spec: NetworkSpec): Promise<void>;
  /** Removes the networks carrying `labels`; one still in use is left, and named in the answer. */
  removeNetworks(labels: Readonly<Record<string, string>>): Promise<string[]>;
  /** Total memory of the engine's machine, in bytes. */
  memoryCapacityBytes(): Promise<number>;
  ping(): Promise<void>;
}
