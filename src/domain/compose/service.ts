import { ADDABLE_CAPABILITIES, BASE_CAPABILITIES } from '../definition.js';
import { formatConstraint, parseConstraint } from '../placement-constraints.js';
import { asNamed, isMapping } from './merge.js';
import type { BuildSpec, DependencyCondition, FileMountSpec, HealthcheckSpec, MountSpec, PortSpec, RestartPolicy, StackServiceSpec } from './stack-spec.js';
import type { Values } from './values.js';
import { isServiceName, stackServiceName } from './stack-name.js';

/** What a compose service may hold that berth runs as asked. */
const SUPPORTED = new Set([
  'image', 'build', 'command', 'entrypoint', 'environment', 'env_file', 'working_dir', 'user', 'hostname', 'container_name',
  'links', 'labels', 'stop_signal', 'stop_grace_period', 'init', 'tmpfs', 'cap_drop', 'ulimits', 'logging', 'ports', 'expose',
  'volumes', 'networks', 'depends_on', 'healthcheck', 'restart', 'deploy', 'mem_limit', 'mem_reservation', 'cpus', 'pids_limit',
  'profiles', 'secrets', 'configs', 'extra_hosts', 'scale', 'pull_policy', 'cap_add',
]);

/** Refused because they would let a tenant's task reach beyond itself: the reason says how. */
const UNSAFE: Record<string, string> = {
  privileged: 'a privileged task could take over the host and every other project’s tasks',
  devices: 'a task may not reach the host’s devices',
  pid: 'a task may not share the host’s process namespace',
  ipc: 'a task may not share the host’s or another task’s IPC namespace',
  userns_mode: 'a task may not leave its user namespace',
  network_mode: 'a task joins its stack’s networks only; `host` would bypass the gateway and every other project’s isolation',
  security_opt: 'berth sets the security options itself (no-new-privileges)',
  cgroup_parent: 'berth places a task’s cgroup itself',
  volumes_from: 'a task mounts only its own stack’s and project’s volumes',
  sysctls: 'kernel settings are the host’s to choose',
  external_links: 'a task reaches only its stack’s and project’s networks',
};

/** Why other keys are refused: berth would otherwise drop them silently. */
const UNSUPPORTED: Record<string, string> = {
  tty: 'berth reads a task’s output as separate stdout and stderr streams; remove tty (use berth compose exec for a terminal)',
  stdin_open: 'a task’s stdin is not kept open; use berth compose exec for an interactive shell',
  extends: 'inline the extended service',
};

const RESTARTS: Record<string, RestartPolicy> = { no: 'no', always: 'always', 'unless-stopped': 'unless-stopped', 'on-failure': 'on-failure' };
export const DEFAULT_LIMIT_MIB = 512;
export const DEFAULT_RESERVATION_MIB = 64;
const MAX_PORT_RANGE = 100;

type Raw = Record<string, unknown>;

/** One compose service in berth's terms; what is wrong with it is recorded in `v`, and the stack is refused. */
export function readService(stack: string, composeName: string, raw: Raw, v: Values, attachments: ReadonlySet<string>): StackServiceSpec {
  const at = `services.${composeName}`;
  for (const key of Object.keys(raw)) {
    if (key.startsWith('x-')) continue;
    if (UNSAFE[key] !== undefined) v.problem(`${at}.${key}`, `is refused: ${UNSAFE[key]}`);
    else if (UNSUPPORTED[key] !== undefined) v.problem(`${at}.${key}`, `is not supported: ${UNSUPPORTED[key]}`);
    else if (!SUPPORTED.has(key)) v.problem(`${at}.${key}`, 'is not supported by berth');
  }
  const name = berthServiceName(stack, composeName, at, v);
  const image = typeof raw.image === 'string' ? raw.image : null;
  const build = readBuild(raw.build, `${at}.build`, v);
  if (image === null && build === null) v.problem(at, "needs 'image' or 'build'");
  const deploy = isMapping(raw.deploy) ? raw.deploy : {};
  for (const key of Object.keys(deploy)) {
    if (!['replicas', 'resources', 'restart_policy', 'labels', 'placement'].includes(key)) {
      v.problem(`${at}.deploy.${key}`, 'is not supported by berth (replicas, resources, restart_policy and placement are)');
    }
  }
  const resources = isMapping(deploy.resources) ? deploy.resources : {};
  const limits = isMapping(resources.limits) ? resources.limits : {};
  const reservations = isMapping(resources.reservations) ? resources.reservations : {};
  const limit = v.sizeMiB(limits.memory ?? raw.mem_limit, `${at}.mem_limit`) ?? DEFAULT_LIMIT_MIB;
  const reservation = v.sizeMiB(reservations.memory ?? raw.mem_reservation, `${at}.mem_reservation`) ?? Math.min(limit, DEFAULT_RESERVATION_MIB);
  if (reservation > limit) v.problem(`${at}.mem_reservation`, `(${reservation} MiB) may not be greater than the memory limit (${limit} MiB)`);
  if (limit < 6) v.problem(`${at}.mem_limit`, 'must be at least 6 MiB');
  const cpus = limits.cpus ?? raw.cpus;
  const replicas = Number(deploy.replicas ?? raw.scale ?? 1);
  if (!Number.isInteger(replicas) || replicas < 0 || replicas > 64) v.problem(`${at}.deploy.replicas`, 'must be an integer from 0 to 64');
  const spec: StackServiceSpec = {
    composeName,
    name,
    image,
    build,
    command: v.command(raw.command),
    entrypoint: v.command(raw.entrypoint),
    environment: [],
    workingDir: optionalString(raw.working_dir),
    user: optionalString(raw.user),
    hostname: optionalString(raw.hostname),
    aliases: [...new Set([composeName, name, ...[raw.container_name, raw.hostname].filter((a): a is string => typeof a === 'string')])],
    networks: readNetworks(raw.networks),
    ports: readPorts(raw.ports, `${at}.ports`, v),
    expose: v.list(raw.expose).flatMap((e) => portRange(e.replace(/\/.*$/, ''), `${at}.expose`, v)),
    mounts: [...readVolumes(raw.volumes, `${at}.volumes`, v), ...v.list(raw.tmpfs).map((t) => ({ kind: 'tmpfs' as const, source: '', target: t.split(':')[0] as string, readOnly: false }))],
    secrets: readFileMounts(raw.secrets, '/run/secrets/', `${at}.secrets`, v),
    configs: readFileMounts(raw.configs, '/', `${at}.configs`, v),
    dependsOn: readDependsOn(raw.depends_on, raw.links),
    healthcheck: readHealthcheck(raw.healthcheck, `${at}.healthcheck`, v),
    restart: readRestart(raw.restart, deploy.restart_policy, `${at}.restart`, v),
    replicas: Number.isInteger(replicas) ? replicas : 1,
    memoryLimitMiB: limit,
    memoryReservationMiB: reservation,
    cpuLimit: cpus === undefined ? null : Number(cpus),
    pidsLimit: typeof (limits.pids ?? raw.pids_limit) === 'number' ? Number(limits.pids ?? raw.pids_limit) : null,
    stopSignal: optionalString(raw.stop_signal),
    stopGraceSeconds: v.seconds(raw.stop_grace_period, `${at}.stop_grace_period`),
    init: raw.init !== false,
    capDrop: readCapDrop(raw.cap_drop, `${at}.cap_drop`, v),
    capAdd: readCapAdd(raw.cap_add, `${at}.cap_add`, v),
    ulimits: readUlimits(raw.ulimits),
    labels: readLabels(raw.labels, `${at}.labels`, v),
    logMaxBytes: readLogging(raw.logging, `${at}.logging`, v),
    extraHosts: v.list(raw.extra_hosts).length > 0 ? v.list(raw.extra_hosts) : v.keyValues(raw.extra_hosts).map(([h, ip]) => `${h}:${ip}`),
    profiles: v.list(raw.profiles),
    constraints: readPlacement(deploy.placement, `${at}.deploy.placement`, v),
    ...readBerthExtension(raw['x-berth'], `${at}.x-berth`, v),
  };
  if (cpus !== undefined && (!Number.isFinite(spec.cpuLimit) || (spec.cpuLimit as number) <= 0)) v.problem(`${at}.cpus`, 'must be a positive number of CPUs');
  for (const file of v.list(raw.env_file)) if (!attachments.has(file)) v.problem(`${at}.env_file`, `${file} was not sent with the compose file`);
  return spec;
}

/** `deploy.placement.constraints`, Swarm's expressions, each checked; preferences and max replicas are refused. */
function readPlacement(value: unknown, at: string, v: Values): string[] {
  if (value === undefined) return [];
  if (!isMapping(value)) {
    v.problem(at, 'must be a mapping (constraints)');
    return [];
  }
  for (const key of Object.keys(value)) if (key !== 'constraints') v.problem(`${at}.${key}`, 'is not supported by berth (constraints is)');
  const constraints: string[] = [];
  v.list(value.constraints).forEach((text, i) => {
    try {
      constraints.push(formatConstraint(parseConstraint(text)));
    } catch (error) {
      v.problem(`${at}.constraints[${i}]`, (error as Error).message);
    }
  });
  return constraints;
}

function berthServiceName(stack: string, composeName: string, at: string, v: Values): string {
  const name = stackServiceName(stack, composeName);
  if (!isServiceName(name)) v.problem(at, `'${composeName}' makes berth's name '${name}', which must end with a letter or digit`);
  return name;
}

/** `x-berth`: what berth adds to compose for a routed service. */
function readBerthExtension(value: unknown, at: string, v: Values): { stripPrefix: boolean; healthPath: string | null } {
  if (value === undefined) return { stripPrefix: false, healthPath: null };
  if (!isMapping(value)) {
    v.problem(at, 'must be a mapping (strip_prefix, health_path)');
    return { stripPrefix: false, healthPath: null };
  }
  for (const key of Object.keys(value)) if (key !== 'strip_prefix' && key !== 'health_path') v.problem(`${at}.${key}`, 'is not a berth setting (strip_prefix, health_path are)');
  if (value.strip_prefix !== undefined && typeof value.strip_prefix !== 'boolean') v.problem(`${at}.strip_prefix`, 'must be true or false');
  const healthPath = value.health_path;
  if (healthPath !== undefined && (typeof healthPath !== 'string' || !/^\/[\x21-\x7e]{0,255}$/.test(healthPath))) {
    v.problem(`${at}.health_path`, "must be a path starting with '/'");
  }
  return { stripPrefix: value.strip_prefix === true, healthPath: typeof healthPath === 'string' ? healthPath : null };
}

function optionalString(value: unknown): string | null {
  return value === undefined || value === null ? null : String(value);
}

function readBuild(value: unknown, at: string, v: Values): BuildSpec | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'string') return { context: value, dockerfile: null, args: {}, target: null };
  if (!isMapping(value)) return null;
  for (const key of Object.keys(value)) {
    if (!['context', 'dockerfile', 'args', 'target', 'labels', 'cache_from', 'network'].includes(key) && !key.startsWith('x-')) v.problem(`${at}.${key}`, 'is not supported by berth');
  }
  return {
    context: String(value.context ?? '.'),
    dockerfile: optionalString(value.dockerfile),
    args: Object.fromEntries(v.keyValues(value.args).map(([k, val]) => [k, val ?? ''])),
    target: optionalString(value.target),
  };
}

function readNetworks(value: unknown): StackServiceSpec['networks'] {
  const named = asNamed(value);
  const keys = Object.keys(named);
  if (keys.length === 0) return [{ network: 'default', aliases: [] }];
  return keys.map((network) => {
    const settings = named[network];
    const aliases = isMapping(settings) && Array.isArray(settings.aliases) ? settings.aliases.map(String) : [];
    return { network, aliases };
  });
}

function readPorts(value: unknown, at: string, v: Values): PortSpec[] {
  const ports: PortSpec[] = [];
  for (const [i, entry] of (Array.isArray(value) ? value : []).entries()) {
    if (isMapping(entry)) {
      const published = entry.published === undefined || entry.published === '' ? null : Number(entry.published);
      ports.push({ target: Number(entry.target), published, hostIp: optionalString(entry.host_ip), protocol: entry.protocol === 'udp' ? 'udp' : 'tcp' });
      continue;
    }
    const text = String(entry);
    const match = /^(?:(\[[0-9a-fA-F:.]+\]|\d+\.\d+\.\d+\.\d+):)?(?:([\d-]*):)?([\d-]+)(?:\/(tcp|udp))?$/.exec(text);
    if (!match) {
      v.problem(`${at}[${i}]`, `'${text}' is not a port such as 80, 8080:80 or 127.0.0.1:8080:80`);
      continue;
    }
    const targets = portRange(match[3] as string, `${at}[${i}]`, v);
    const hosts = match[2] === undefined ? null : match[2] === '' ? [] : portRange(match[2], `${at}[${i}]`, v);
    targets.forEach((target, n) => {
      const published = hosts === null ? null : hosts.length === 0 ? 0 : (hosts[n] ?? null);
      ports.push({ target, published, hostIp: match[1]?.replace(/^\[|\]$/g, '') ?? null, protocol: match[4] === 'udp' ? 'udp' : 'tcp' });
    });
  }
  for (const port of ports) {
    if (!Number.isInteger(port.target) || port.target < 1 || port.target > 65535) v.problem(at, `port ${port.target} is out of range 1-65535`);
    if (port.published !== null && (!Number.isInteger(port.published) || port.published < 0 || port.published > 65535)) v.problem(at, `host port ${port.published} is out of range 1-65535`);
  }
  return ports;
}

function portRange(text: string, at: string, v: Values): number[] {
  const [from, to = from] = text.split('-').map(Number) as [number, number?];
  if (!Number.isInteger(from) || !Number.isInteger(to) || to < from || to - from >= MAX_PORT_RANGE) {
    v.problem(at, `'${text}' is not a port or a range of at most ${MAX_PORT_RANGE} ports`);
    return [];
  }
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

function readVolumes(value: unknown, at: string, v: Values): MountSpec[] {
  const mounts: MountSpec[] = [];
  for (const [i, entry] of (Array.isArray(value) ? value : []).entries()) {
    if (isMapping(entry)) {
      const kind = entry.type === 'bind' ? 'bind' : entry.type === 'tmpfs' ? 'tmpfs' : entry.type === 'volume' || entry.type === undefined ? 'volume' : null;
      if (kind === null) v.problem(`${at}[${i}].type`, `'${String(entry.type)}' mounts are not supported (volume, bind and tmpfs are)`);
      else mounts.push({ kind, source: String(entry.source ?? ''), target: String(entry.target), readOnly: entry.read_only === true });
      continue;
    }
    const parts = String(entry).split(':');
    if (parts.length === 1) {
      // An anonymous volume: kept under a name of the service's and the path's, so its data outlives a task.
      mounts.push({ kind: 'volume', source: '', target: parts[0] as string, readOnly: false });
      continue;
    }
    const [source, target, mode = ''] = parts as [string, string, string?];
    const bind = source.startsWith('/') || source.startsWith('.') || source.startsWith('~');
    mounts.push({ kind: bind ? 'bind' : 'volume', source, target, readOnly: mode.split(',').includes('ro') });
  }
  for (const mount of mounts) if (!mount.target.startsWith('/')) v.problem(at, `mount target '${mount.target}' must be an absolute path`);
  return mounts;
}

function readFileMounts(value: unknown, base: string, at: string, v: Values): FileMountSpec[] {
  return (Array.isArray(value) ? value : []).map((entry, i) => {
    const source = isMapping(entry) ? String(entry.source) : String(entry);
    const target = isMapping(entry) && entry.target !== undefined ? String(entry.target) : source;
    if (target.includes('..')) v.problem(`${at}[${i}]`, `target '${target}' may not contain '..'`);
    return { name: source, source, target: target.startsWith('/') ? target : `${base}${target}` };
  });
}

function readDependsOn(value: unknown, links: unknown): StackServiceSpec['dependsOn'] {
  const named = asNamed(value);
  const out = Object.entries(named).map(([service, settings]) => ({
    service,
    condition: (isMapping(settings) && typeof settings.condition === 'string' ? settings.condition : 'service_started') as DependencyCondition,
  }));
  for (const link of Array.isArray(links) ? links.map(String) : []) {
    const service = link.split(':')[0] as string;
    if (!out.some((d) => d.service === service)) out.push({ service, condition: 'service_started' });
  }
  return out;
}

function readHealthcheck(value: unknown, at: string, v: Values): HealthcheckSpec | null {
  if (!isMapping(value)) return null;
  if (value.disable === true) return { test: ['NONE'], intervalSeconds: 0, timeoutSeconds: 0, retries: 0, startPeriodSeconds: 0 };
  const test = typeof value.test === 'string' ? ['CMD-SHELL', value.test] : Array.isArray(value.test) ? value.test.map(String) : null;
  if (test === null) return null;
  return {
    test,
    intervalSeconds: v.seconds(value.interval, `${at}.interval`) ?? 30,
    timeoutSeconds: v.seconds(value.timeout, `${at}.timeout`) ?? 30,
    retries: typeof value.retries === 'number' ? value.retries : 3,
    startPeriodSeconds: v.seconds(value.start_period, `${at}.start_period`) ?? 0,
  };
}

/**
 * berth restarts a stack service's crashed tasks unless told otherwise; a task that exits 0 has
 * completed (compose's `no` for one-shot tasks, without leaving crashes unattended).
 */
function readRestart(value: unknown, policy: unknown, at: string, v: Values): RestartPolicy {
  if (value === undefined && isMapping(policy)) {
    const condition = String(policy.condition ?? 'any');
    return condition === 'none' ? 'no' : condition === 'on-failure' ? 'on-failure' : 'always';
  }
  if (value === undefined) return 'on-failure';
  const restart = RESTARTS[String(value).split(':')[0] as string];
  if (!restart) v.problem(at, `'${String(value)}' is not no, always, on-failure or unless-stopped`);
  return restart ?? 'on-failure';
}

function readCapDrop(value: unknown, at: string, v: Values): string[] {
  const known = new Set<string>([...BASE_CAPABILITIES, ...ADDABLE_CAPABILITIES, 'ALL']);
  return v.list(value).map((raw) => {
    const cap = raw.toUpperCase().replace(/^CAP_/, '');
    if (!known.has(cap)) v.problem(at, `'${raw}' is not a capability a task has`);
    return cap;
  });
}

/** Only Docker's defaults that tasks do not keep, as `berth deploy --cap-add`: nothing that reaches beyond the task. */
function readCapAdd(value: unknown, at: string, v: Values): string[] {
  return v.list(value).map((raw) => {
    const cap = raw.toUpperCase().replace(/^CAP_/, '');
    if (!(ADDABLE_CAPABILITIES as readonly string[]).includes(cap)) {
      v.problem(at, `'${raw}' is refused: a task may add back only ${ADDABLE_CAPABILITIES.join(', ')} (Docker's defaults); anything more would reach beyond it`);
    }
    return cap;
  });
}

function readUlimits(value: unknown): StackServiceSpec['ulimits'] {
  if (!isMapping(value)) return [];
  return Object.entries(value).map(([name, limit]) =>
    isMapping(limit) ? { name, soft: Number(limit.soft), hard: Number(limit.hard) } : { name, soft: Number(limit), hard: Number(limit) },
  );
}

function readLabels(value: unknown, at: string, v: Values): Record<string, string> {
  const labels = Object.fromEntries(v.keyValues(value).map(([k, val]) => [k, val ?? '']));
  for (const key of Object.keys(labels)) if (key.startsWith('io.berth.')) v.problem(at, `label ${key} is berth's own`);
  return labels;
}

function readLogging(value: unknown, at: string, v: Values): number | null {
  if (!isMapping(value)) return null;
  const driver = String(value.driver ?? 'json-file');
  if (!['json-file', 'local'].includes(driver)) {
    v.problem(`${at}.driver`, `'${driver}' is refused: berth keeps every task's output itself (json-file, with its own cap); use options.max-size to cap it`);
    return null;
  }
  const options = isMapping(value.options) ? value.options : {};
  const mib = v.sizeMiB(options['max-size'], `${at}.options.max-size`);
  return mib === null ? null : mib * 1024 * 1024;
}
