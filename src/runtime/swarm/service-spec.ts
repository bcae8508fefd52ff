import { createHash } from 'node:crypto';
import type Docker from 'dockerode';
import { engineHealthcheck } from '../docker/tasks.js';
import type { TaskSpec } from '../task-runtime.js';

/** The service label holding the image as berth named it (the spec may name it by digest or id). */
export const IMAGE_LABEL = 'io.berth.swarm.image';
/**
 * How berth stops a task on Swarm: a constraint no node satisfies. Swarm's updater then stops
 * the task (its stop signal, then SIGKILL after the grace period) and keeps it in the
 * service's history with its exit code and logs, where scaling to 0 or removing the service
 * would delete both at once. The replacement it schedules never runs.
 */
export const STOP_CONSTRAINT = 'node.labels.io.berth.stopped==true';

const NS = 1e9;
const MAX_NAME = 63;

/**
 * The Swarm name of a task's service or of a network: Swarm allows only letters, digits and
 * '-', at most 63 (a DNS label). A name changed to fit gets a digest of the original, so two
 * names never meet.
 */
export function swarmName(taskName: string): string {
  const fitted = taskName.replace(/[^a-zA-Z0-9-]/g, '-');
  if (fitted === taskName && fitted.length <= MAX_NAME) return fitted;
  const digest = createHash('sha256').update(taskName).digest('hex').slice(0, 8);
  return `${fitted.slice(0, MAX_NAME - 9).replace(/-+$/, '')}-${digest}`;
}

export interface SwarmSpecOptions {
  /** The image reference the nodes run (pinned by digest or id when the manager knows it). */
  readonly image: string;
  /** Used when the task's own spec sets none. */
  readonly stopGraceMs: number;
}

/**
 * One berth task as one Swarm service of one replica that Swarm never restarts: berth judges
 * exits (crash, completion, backoff), Swarm places the task by its reservation and
 * constraints. Its served ports are published on its node (host mode), where the gateway
 * reaches them; names and aliases resolve on its overlay networks by DNS round robin (the
 * kernel may lack IPVS, which virtual IPs need).
 */
export function serviceSpec(spec: TaskSpec, options: SwarmSpecOptions): Docker.ServiceSpec {
  const extra = spec.extra;
  const ports: Docker.PortConfig[] = [
    ...(spec.servedPorts ?? []).map((port) => ({ Protocol: 'tcp' as const, TargetPort: port, PublishMode: 'host' as const })),
    ...(extra?.hostPorts ?? []).map((p) => ({
      Protocol: p.protocol,
      TargetPort: p.containerPort,
      ...(p.hostPort === 0 ? {} : { PublishedPort: p.hostPort }),
      PublishMode: 'host' as const,
    })),
  ];
  const grace = extra?.stopGraceSeconds ?? options.stopGraceMs / 1000;
  return {
    Name: swarmName(spec.name),
    Labels: { ...spec.labels, [IMAGE_LABEL]: spec.image },
    TaskTemplate: {
      ContainerSpec: {
        Image: options.image,
        Labels: { ...spec.labels },
        Env: [...spec.env],
        ...(spec.command ? { Args: [...spec.command] } : {}),
        ...(extra?.entrypoint ? { Command: [...extra.entrypoint] } : {}),
        ...(extra?.workingDir ? { Dir: extra.workingDir } : {}),
        ...(extra?.user ? { User: extra.user } : {}),
        ...(extra?.hostname ? { Hostname: extra.hostname } : {}),
        ...(extra?.stopSignal ? { StopSignal: extra.stopSignal } : {}),
        StopGracePeriod: Math.round(grace * NS),
        ...(extra?.healthcheck ? { HealthCheck: engineHealthcheck(extra.healthcheck) } : {}),
        // A process running as PID 1 ignores SIGTERM unless it installs a handler.
        Init: extra?.init ?? true,
        CapabilityDrop: ['ALL'],
        CapabilityAdd: [...spec.capabilities],
        Mounts: spec.mounts.map((m) =>
          m.kind === 'tmpfs' ? { Type: 'tmpfs' as const, Source: '', Target: m.target, ReadOnly: m.readOnly } : { Type: m.kind, Source: m.source, Target: m.target, ReadOnly: m.readOnly },
        ),
        ...(extra && extra.ulimits.length > 0 ? { Ulimits: extra.ulimits.map((u) => ({ Name: u.name, Soft: u.soft, Hard: u.hard })) } : {}),
        ...(extra && extra.extraHosts.length > 0 ? { Hosts: extra.extraHosts.map(swarmHost) } : {}),
      },
      Resources: {
        Limits: { MemoryBytes: spec.memoryLimitBytes, NanoCPUs: Math.round(spec.cpuLimit * NS), Pids: spec.pidsLimit },
        Reservations: { MemoryBytes: spec.memoryReservationBytes },
      },
      RestartPolicy: { Condition: 'none' },
      Placement: { Constraints: [...(spec.constraints ?? [])] },
      Networks: spec.networks.map((n) => ({ Target: swarmName(n.name), Aliases: [...n.aliases] })),
      LogDriver: { Name: 'json-file', Options: { 'max-size': String(spec.logMaxBytes), 'max-file': '1' } },
    },
    Mode: { Replicated: { Replicas: 1 } },
    EndpointSpec: { Mode: 'dnsrr', Ports: ports },
  };
}

/** The engine writes extra hosts as `name:address`, Swarm as a hosts-file line. */
function swarmHost(entry: string): string {
  const at = entry.indexOf(':');
  return at < 0 ? entry : `${entry.slice(at + 1)} ${entry.slice(0, at)}`;
}
