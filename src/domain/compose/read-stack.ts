import { parse as parseDotenv } from 'dotenv';
import { loadCompose, type ComposeFile } from './load.js';
import { isMapping } from './merge.js';
import { InvalidComposeError, type ComposeProblem } from './problems.js';
import { readService } from './service.js';
import type { StackFileSpec, StackNetworkSpec, StackServiceSpec, StackSpec, StackVolumeSpec } from './stack-spec.js';
import { Values } from './values.js';

/** A stack as `berth compose` sends it. */
export interface StackInput {
  readonly stack: string;
  readonly files: readonly ComposeFile[];
  /** Variables for interpolation and for `environment` entries without a value (.env, --env-file, the shell's). */
  readonly environment: Readonly<Record<string, string>>;
  /** Files the compose file names (env_file, secrets, configs), by the path written in it. */
  readonly attachments: Readonly<Record<string, string>>;
  /** false: skip the Compose Specification's schema (a client whose server checks it again). */
  readonly checkSchema?: boolean;
}

const TOP_LEVEL = new Set(['version', 'name', 'services', 'networks', 'volumes', 'secrets', 'configs']);

/**
 * A stack's compose files in berth's terms, with every problem in them found at once: the
 * schema's, then berth's own (unsupported or unsafe keys, unknown services in depends_on, a
 * dependency cycle, undeclared networks and volumes, names that collide). Services come out in
 * an order that starts every service after those it depends on. Throws InvalidComposeError.
 */
export function readStack(input: StackInput): StackSpec {
  const problems: ComposeProblem[] = [];
  const loaded = loadCompose(input.files, input.environment, problems, { checkSchema: input.checkSchema !== false });
  const config = loaded.config;
  const v = new Values(problems);
  for (const key of Object.keys(config)) if (!TOP_LEVEL.has(key) && !key.startsWith('x-')) v.problem(key, 'is not supported by berth');
  const attachments = new Set(Object.keys(input.attachments));
  const networks = readTopNetworks(config.networks, v);
  const volumes = readTopVolumes(config.volumes, v);
  const files = readTopFiles(config, attachments, v);
  const services: StackServiceSpec[] = [];
  const rawServices = isMapping(config.services) ? config.services : {};
  if (Object.keys(rawServices).length === 0) v.problem('services', 'a stack needs at least one service');
  for (const [composeName, raw] of Object.entries(rawServices)) {
    const service = readService(input.stack, composeName, isMapping(raw) ? raw : {}, v, attachments);
    services.push({ ...service, environment: environmentOf(raw as Record<string, unknown>, input, v) });
  }
  checkReferences(services, networks, volumes, files, v);
  const ordered = startOrder(services, v);
  if (problems.length > 0) throw new InvalidComposeError(problems.map((p) => (p.line === undefined ? { ...p, ...loaded.locate(p.path) } : p)));
  return { services: ordered, networks, volumes, files };
}

function environmentOf(raw: Record<string, unknown>, input: StackInput, v: Values): { name: string; value: string }[] {
  const merged = new Map<string, string>();
  for (const file of v.list(raw.env_file)) {
    const text = input.attachments[file];
    if (text !== undefined) for (const [name, value] of Object.entries(parseDotenv(text))) merged.set(name, value);
  }
  for (const [name, value] of v.keyValues(raw.environment)) {
    // A name without a value takes it from the environment compose runs in, or is left out.
    const resolved = value ?? input.environment[name];
    if (resolved !== undefined) merged.set(name, resolved);
  }
  return [...merged].map(([name, value]) => ({ name, value }));
}

function readTopNetworks(value: unknown, v: Values): StackNetworkSpec[] {
  const out: StackNetworkSpec[] = [];
  const declared = isMapping(value) ? value : {};
  for (const [key, raw] of Object.entries(declared)) {
    const settings = isMapping(raw) ? raw : {};
    const external = externalName(key, settings);
    if (external === null && settings.driver !== undefined && settings.driver !== 'bridge') {
      v.problem(`networks.${key}.driver`, `'${String(settings.driver)}' is not supported: a stack's networks are private bridges`);
    }
    for (const k of Object.keys(settings)) {
      if (!['external', 'name', 'driver', 'labels', 'attachable'].includes(k) && !k.startsWith('x-')) v.problem(`networks.${key}.${k}`, 'is not supported by berth');
    }
    out.push({ key, external });
  }
  if (!out.some((n) => n.key === 'default')) out.push({ key: 'default', external: null });
  return out;
}

function readTopVolumes(value: unknown, v: Values): StackVolumeSpec[] {
  const declared = isMapping(value) ? value : {};
  return Object.entries(declared).map(([key, raw]) => {
    const settings = isMapping(raw) ? raw : {};
    if (settings.driver !== undefined && settings.driver !== 'local') v.problem(`volumes.${key}.driver`, `'${String(settings.driver)}' is not supported: volumes are the engine's local ones`);
    if (settings.driver_opts !== undefined) v.problem(`volumes.${key}.driver_opts`, 'is not supported: a volume is a plain local one');
    return { key, external: externalName(key, settings) };
  });
}

/** `external: true` (named by `name`, else its key), or the legacy `external: {name: x}`; null when not external. */
function externalName(key: string, settings: Record<string, unknown>): string | null {
  const external = settings.external;
  if (isMapping(external)) return String(external.name ?? key);
  if (external === true) return typeof settings.name === 'string' ? settings.name : key;
  return null;
}

function readTopFiles(config: Record<string, unknown>, attachments: ReadonlySet<string>, v: Values): StackFileSpec[] {
  const files: StackFileSpec[] = [];
  for (const kind of ['secret', 'config'] as const) {
    const declared = isMapping(config[`${kind}s`]) ? (config[`${kind}s`] as Record<string, unknown>) : {};
    for (const [name, raw] of Object.entries(declared)) {
      const settings = isMapping(raw) ? raw : {};
      if (typeof settings.file !== 'string') v.problem(`${kind}s.${name}`, "berth takes secrets and configs from files: give 'file'");
      else if (!attachments.has(settings.file)) v.problem(`${kind}s.${name}.file`, `${settings.file} was not sent with the compose file`);
      files.push({ kind, name, source: typeof settings.file === 'string' ? settings.file : '' });
    }
  }
  return files;
}

function checkReferences(
  services: readonly StackServiceSpec[],
  networks: readonly StackNetworkSpec[],
  volumes: readonly StackVolumeSpec[],
  declared: readonly StackFileSpec[],
  v: Values,
): void {
  const files = new Set(declared.map((f) => `${f.kind}s:${f.name}`));
  const byName = new Set(services.map((s) => s.composeName));
  const berthNames = new Map<string, string>();
  const networkKeys = new Set(networks.map((n) => n.key));
  const volumeKeys = new Set(volumes.map((n) => n.key));
  for (const s of services) {
    const at = `services.${s.composeName}`;
    const clash = berthNames.get(s.name);
    if (clash) v.problem(at, `'${s.composeName}' and '${clash}' both become berth's service '${s.name}'; rename one`);
    berthNames.set(s.name, s.composeName);
    for (const d of s.dependsOn) if (!byName.has(d.service)) v.problem(`${at}.depends_on`, `'${d.service}' is no service of this file`);
    for (const n of s.networks) if (!networkKeys.has(n.network)) v.problem(`${at}.networks`, `'${n.network}' is not declared under the top-level networks`);
    for (const m of s.mounts) {
      if (m.kind === 'volume' && m.source !== '' && !volumeKeys.has(m.source)) v.problem(`${at}.volumes`, `'${m.source}' is not declared under the top-level volumes`);
    }
    for (const f of s.secrets) if (!files.has(`secrets:${f.name}`)) v.problem(`${at}.secrets`, `'${f.name}' is not declared under the top-level secrets`);
    for (const f of s.configs) if (!files.has(`configs:${f.name}`)) v.problem(`${at}.configs`, `'${f.name}' is not declared under the top-level configs`);
  }
}

/** Dependencies first; a cycle is a problem naming the services in it. */
function startOrder(services: readonly StackServiceSpec[], v: Values): StackServiceSpec[] {
  const byName = new Map(services.map((s) => [s.composeName, s]));
  const done = new Set<string>();
  const visiting: string[] = [];
  const ordered: StackServiceSpec[] = [];
  const visit = (s: StackServiceSpec): void => {
    if (done.has(s.composeName)) return;
    if (visiting.includes(s.composeName)) {
      v.problem(`services.${s.composeName}.depends_on`, `is part of a dependency cycle: ${[...visiting.slice(visiting.indexOf(s.composeName)), s.composeName].join(' → ')}`);
      return;
    }
    visiting.push(s.composeName);
    for (const d of s.dependsOn) {
      const dependency = byName.get(d.service);
      if (dependency) visit(dependency);
    }
    visiting.pop();
    done.add(s.composeName);
    ordered.push(s);
  };
  for (const s of services) visit(s);
  return ordered;
}
