/** A stack as berth runs it: a compose file's services, networks and volumes, checked and in berth's terms. */

export type RestartPolicy = 'no' | 'always' | 'on-failure' | 'unless-stopped';
export type DependencyCondition = 'service_started' | 'service_healthy' | 'service_completed_successfully';

export interface PortSpec {
  /** The port inside the task. */
  readonly target: number;
  /** The host port asked for; null: none (reached through the gateway), 0: any free one. */
  readonly published: number | null;
  readonly hostIp: string | null;
  readonly protocol: 'tcp' | 'udp';
}

export interface MountSpec {
  readonly kind: 'volume' | 'bind' | 'tmpfs';
  /** A volume's key in the file's `volumes`, or an absolute host path; empty for tmpfs. */
  readonly source: string;
  readonly target: string;
  readonly readOnly: boolean;
}

/** A compose healthcheck, run by the engine inside the task. */
export interface HealthcheckSpec {
  /** As the engine takes it: ["CMD", …], ["CMD-SHELL", "…"] or ["NONE"]. */
  readonly test: readonly string[];
  readonly intervalSeconds: number;
  readonly timeoutSeconds: number;
  readonly retries: number;
  readonly startPeriodSeconds: number;
}

/** Where a task finds a secret's or config's content: a file the stack sent with it. */
export interface FileMountSpec {
  readonly name: string;
  /** The attachment's key: the path the file had, relative to the compose file's directory. */
  readonly source: string;
  readonly target: string;
}

export interface StackServiceSpec {
  /** As written in the file; also a DNS name in the stack (`sisock_crossbar`). */
  readonly composeName: string;
  /** berth's service name: `<stack>-<compose name>`, lower case, `_` and `.` as `-`. */
  readonly name: string;
  /** The image to run; for a service that builds, the image the build made (filled in by `up`). */
  readonly image: string | null;
  readonly build: BuildSpec | null;
  readonly command: readonly string[] | null;
  readonly entrypoint: readonly string[] | null;
  readonly environment: readonly { readonly name: string; readonly value: string }[];
  readonly workingDir: string | null;
  readonly user: string | null;
  readonly hostname: string | null;
  /** Other names the service answers to on its networks: container_name, hostname, links' aliases. */
  readonly aliases: readonly string[];
  /** Its networks (keys of the stack's `networks`), with aliases of its own on each. */
  readonly networks: readonly { readonly network: string; readonly aliases: readonly string[] }[];
  readonly ports: readonly PortSpec[];
  readonly expose: readonly number[];
  readonly mounts: readonly MountSpec[];
  readonly secrets: readonly FileMountSpec[];
  readonly configs: readonly FileMountSpec[];
  readonly dependsOn: readonly { readonly service: string; readonly condition: DependencyCondition }[];
  /** null: the image's own HEALTHCHECK, if any. */
  readonly healthcheck: HealthcheckSpec | null;
  readonly restart: RestartPolicy;
  readonly replicas: number;
  readonly memoryLimitMiB: number;
  readonly memoryReservationMiB: number;
  readonly cpuLimit: number | null;
  readonly pidsLimit: number | null;
  readonly stopSignal: string | null;
  readonly stopGraceSeconds: number | null;
  readonly init: boolean;
  readonly capDrop: readonly string[];
  /** Docker's defaults that tasks do not keep, added back. */
  readonly capAdd: readonly string[];
  readonly ulimits: readonly { readonly name: string; readonly soft: number; readonly hard: number }[];
  readonly labels: Readonly<Record<string, string>>;
  readonly logMaxBytes: number | null;
  readonly extraHosts: readonly string[];
  readonly profiles: readonly string[];
  /** x-berth: {strip_prefix: true}: the gateway drops the path prefix before the request reaches it. */
  readonly stripPrefix: boolean;
  /** x-berth: {health_path: /x}: where berth's prober asks, under the service's path (default: its root). */
  readonly healthPath: string | null;
  /** `deploy.placement.constraints`: where its tasks may run on a Swarm. */
  readonly constraints?: readonly string[];
}

export interface BuildSpec {
  readonly context: string;
  readonly dockerfile: string | null;
  readonly args: Readonly<Record<string, string>>;
  readonly target: string | null;
}

export interface StackNetworkSpec {
  /** Its key in the file (`default` included). */
  readonly key: string;
  /** For `external: true`: the project network's name. */
  readonly external: string | null;
}

export interface StackVolumeSpec {
  readonly key: string;
  /** For `external: true`: the project volume's name. */
  readonly external: string | null;
}

/** A top-level secret or config: its content is the attachment `source` the CLI sent. */
export interface StackFileSpec {
  readonly kind: 'secret' | 'config';
  readonly name: string;
  readonly source: string;
}

export interface StackSpec {
  readonly services: readonly StackServiceSpec[];
  readonly networks: readonly StackNetworkSpec[];
  readonly volumes: readonly StackVolumeSpec[];
  readonly files: readonly StackFileSpec[];
}

/** The file a task mounts for a secret or config: secrets and configs may share names. */
export function stackFileKey(kind: 'secret' | 'config', name: string): string {
  return `${kind}-${name}`;
}
