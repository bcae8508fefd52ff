import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { StackSettings } from '../domain/compose/stack-settings.js';
import type { Mount, NetworkAttachment, NetworkSpec, TaskExtras, VolumeSpec } from '../runtime/task-runtime.js';
import { projectNetwork, resourceLabels, resourceNames } from './labels.js';

/** What a stack service's task joins, mounts and runs with, in the runtime's names. */
export interface StackTaskParts {
  readonly networks: readonly NetworkAttachment[];
  readonly mounts: readonly Mount[];
  readonly extra: TaskExtras;
  /** What must exist before the task is made. */
  readonly ensureNetworks: readonly NetworkSpec[];
  readonly ensureVolumes: readonly VolumeSpec[];
}

/**
 * A stack service's compose settings in the runtime's names: its stack's networks (the project
 * network's for an external one), the project's own network under its berth name (so it reaches
 * the project's services and databases), its volumes, its secrets and configs as read-only files
 * under `filesDir`, and the rest of what compose sets.
 */
export function stackTaskParts(instance: string, project: string, serviceName: string, settings: StackSettings, filesDir: string): StackTaskParts {
  const { stack } = settings;
  const ensureNetworks: NetworkSpec[] = [];
  const networks: NetworkAttachment[] = settings.networks.map((n) => {
    const name = n.external === null ? resourceNames.stackNetwork(instance, project, stack, n.key) : resourceNames.projectNetwork(instance, project, n.external);
    ensureNetworks.push({ name, labels: resourceLabels(instance, project, n.external === null ? { stack } : { resource: n.external }) });
    return { name, aliases: [...new Set([...settings.aliases, ...n.aliases])] };
  });
  const home = projectNetwork(instance, project);
  ensureNetworks.push(home);
  networks.push({ name: home.name, aliases: [serviceName] });
  const ensureVolumes: VolumeSpec[] = [];
  const mounts: Mount[] = settings.mounts.map((m) => {
    if (m.kind !== 'volume') return { kind: m.kind, source: m.source, target: m.target, readOnly: m.readOnly };
    const name = m.external
      ? resourceNames.projectVolume(instance, project, m.source)
      : resourceNames.stackVolume(instance, project, stack, m.source === '' ? anonymousKey(settings.composeName, m.target) : m.source);
    ensureVolumes.push({ name, labels: resourceLabels(instance, project, m.external ? { resource: m.source } : { stack }) });
    return { kind: 'volume', source: name, target: m.target, readOnly: m.readOnly };
  });
  for (const file of settings.files) mounts.push({ kind: 'bind', source: join(filesDir, file.name), target: file.target, readOnly: true });
  return {
    networks,
    mounts,
    ensureNetworks,
    ensureVolumes,
    extra: {
      entrypoint: settings.entrypoint,
      workingDir: settings.workingDir,
      user: settings.user,
      hostname: settings.hostname,
      healthcheck: settings.healthcheck,
      hostPorts: settings.hostPorts.map((p) => ({ containerPort: p.target, hostPort: p.published, hostIp: p.hostIp, protocol: p.protocol })),
      stopSignal: settings.stopSignal,
      stopGraceSeconds: settings.stopGraceSeconds,
      init: settings.init,
      ulimits: settings.ulimits,
      extraHosts: settings.extraHosts,
    },
  };
}

/** An anonymous volume (`- /data`) keeps its data under a name of its service's and its path's. */
function anonymousKey(composeName: string, target: string): string {
  return `anon-${composeName.toLowerCase().replace(/[^a-z0-9-]/g, '-')}-${createHash('sha256').update(target).digest('hex').slice(0, 8)}`;
}

/** Where a stack's secrets and configs are written for its tasks to mount. */
export function stackFilesDir(root: string, project: string, stack: string): string {
  return join(root, project, stack);
}
