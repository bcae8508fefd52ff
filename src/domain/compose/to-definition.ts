import { isAbsolute, posix } from 'node:path';
import { DEFAULT_CPU_LIMIT, DEFAULT_PIDS_LIMIT, type ServiceDefinition } from '../definition.js';
import type { StackMount, StackSettings } from './stack-settings.js';
import { stackFileKey, type StackServiceSpec, type StackSpec } from './stack-spec.js';

/** What the server allows a stack to reach on its host. */
export interface HostPolicy {
  /** Host ports a stack may publish on, inclusive; null: none (everything through the gateway). */
  readonly hostPorts: { readonly min: number; readonly max: number } | null;
  /** Host directories a stack may bind-mount from (and below). */
  readonly bindMountDirs: readonly string[];
}

/** A stack service as the revision berth deploys, and what berth says about it without refusing. */
export interface StackServiceDefinition {
  readonly definition: ServiceDefinition;
  readonly warnings: readonly string[];
  /** Policy refusals: a bind mount outside the allowed dirs, say. */
  readonly refusals: readonly string[];
}

/**
 * A compose service as a service definition berth deploys: its image (a built one resolved by
 * the caller), limits, its first TCP port not published on the host as the one the gateway
 * serves, and every compose setting the task needs. A port published inside the server's host
 * range is published there, and reached there only; outside the range it is left to the gateway
 * (a warning says so). Bind mounts outside the allowed dirs are refusals, for the caller to
 * report for the services it starts.
 */
export function stackServiceDefinition(
  stack: string,
  spec: StackSpec,
  service: StackServiceSpec,
  image: string,
  directory: string,
  policy: HostPolicy,
): StackServiceDefinition {
  const warnings: string[] = [];
  const refusals: string[] = [];
  const hostPorts: StackSettings['hostPorts'][number][] = [];
  // A port published on the host is reached there (a TCP service, say); the others through the gateway.
  const gatewayPorts: number[] = [];
  for (const port of service.ports) {
    const range = policy.hostPorts;
    if (port.published !== null && range !== null && port.published !== 0 && port.published >= range.min && port.published <= range.max) {
      hostPorts.push({ target: port.target, published: port.published, hostIp: port.hostIp, protocol: port.protocol });
      continue;
    }
    if (port.protocol === 'tcp') gatewayPorts.push(port.target);
    if (port.published === null) continue;
    warnings.push(
      `${service.composeName}: host port ${port.published || '(any)'} → ${port.target} is not published (${range === null ? 'the server publishes no host ports' : `the server publishes only ${range.min}-${range.max}`}); it is reached through the gateway`,
    );
  }
  const routed = gatewayPorts.length > 0;
  if (hostPorts.length > 0 && service.replicas > 1) refusals.push(`${service.composeName}: ${service.replicas} replicas cannot share host port ${hostPorts[0]?.published}`);
  const mounts: StackMount[] = service.mounts.map((m) => {
    if (m.kind !== 'bind') {
      const volume = spec.volumes.find((v) => v.key === m.source);
      return { kind: m.kind, source: volume?.external ?? m.source, external: volume?.external != null, target: m.target, readOnly: m.readOnly };
    }
    const host = hostPath(m.source, directory);
    if (!policy.bindMountDirs.some((dir) => host === dir || host.startsWith(`${dir.replace(/\/+$/, '')}/`))) {
      refusals.push(`${service.composeName}: bind mount ${m.source} (${host}) is outside the directories the server allows; start the server with --allow-bind-mount DIR`);
    }
    return { kind: 'bind', source: host, external: false, target: m.target, readOnly: m.readOnly };
  });
  const settings: StackSettings = {
    stack,
    composeName: service.composeName,
    aliases: service.aliases,
    networks: service.networks.map((n) => ({ key: n.network, external: spec.networks.find((d) => d.key === n.network)?.external ?? null, aliases: n.aliases })),
    mounts,
    files: [
      ...service.secrets.map((f) => ({ name: stackFileKey('secret', f.name), target: f.target })),
      ...service.configs.map((f) => ({ name: stackFileKey('config', f.name), target: f.target })),
    ],
    healthcheck: service.healthcheck,
    hostPorts,
    entrypoint: service.entrypoint,
    workingDir: service.workingDir,
    user: service.user,
    hostname: service.hostname,
    stopSignal: service.stopSignal,
    stopGraceSeconds: service.stopGraceSeconds,
    init: service.init,
    capDrop: service.capDrop,
    ulimits: service.ulimits,
    extraHosts: service.extraHosts,
    labels: service.labels,
    logMaxBytes: service.logMaxBytes,
    restart: service.restart,
    routed,
    stripPrefix: service.stripPrefix,
    healthPath: service.healthPath,
    dependsOn: service.dependsOn.map((d) => ({ service: spec.services.find((s) => s.composeName === d.service)?.name ?? d.service, condition: d.condition })),
  };
  const definition: ServiceDefinition = {
    image,
    containerTag: null,
    memoryReservationMiB: service.memoryReservationMiB,
    memoryLimitMiB: service.memoryLimitMiB,
    containerPort: routed ? (gatewayPorts[0] as number) : 0,
    environment: service.environment,
    replicas: service.replicas,
    command: service.command,
    cpuLimit: service.cpuLimit ?? DEFAULT_CPU_LIMIT,
    pidsLimit: service.pidsLimit ?? DEFAULT_PIDS_LIMIT,
    capAdd: service.capAdd,
    stack: settings,
    ...(service.constraints && service.constraints.length > 0 ? { placement: { node: null, constraints: [...service.constraints] } } : {}),
  };
  return { definition, warnings, refusals };
}

/** A bind mount's source as an absolute path on the server's host: relative ones are the compose file's directory's. */
export function hostPath(source: string, directory: string): string {
  if (source.startsWith('~')) return posix.normalize(source);
  return isAbsolute(source) ? posix.normalize(source) : posix.resolve(directory, source);
}

/** Whether two definitions run the same thing: `up` leaves a service whose definition did not change alone. */
export function sameDefinition(a: ServiceDefinition, b: ServiceDefinition): boolean {
  return canonical(a) === canonical(b);
}

function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([x], [y]) => x.localeCompare(y))) : v,
  );
}
