/**
 * Merging compose files given with several `-f`, as the Compose Specification says: mappings
 * merge key by key, a later file's scalar or list wins, except for a service's lists that add
 * up (ports, expose, volumes…) and its key=value lists (environment, labels…), which merge by
 * key whether written as a list or a mapping.
 */
type Value = unknown;
type Mapping = Record<string, Value>;

/** A service's lists whose entries add up across files instead of replacing each other. */
const UNIONED = new Set(['ports', 'expose', 'external_links', 'dns', 'dns_search', 'tmpfs', 'devices', 'secrets', 'configs', 'cap_add', 'cap_drop', 'volumes', 'env_file', 'profiles']);
/** A service's key=value lists, merged by key. */
const KEYED = new Set(['environment', 'labels', 'extra_hosts', 'sysctls', 'ulimits', 'annotations']);
/** A service's lists of names that may also be mappings, merged by name. */
const NAMED = new Set(['depends_on', 'networks', 'links']);

export function mergeComposeFiles(files: readonly Mapping[]): Mapping {
  return files.reduce<Mapping>((merged, file) => mergeTop(merged, file), {});
}

function mergeTop(base: Mapping, over: Mapping): Mapping {
  const out: Mapping = { ...base };
  for (const [key, value] of Object.entries(over)) {
    if (key === 'services' && isMapping(value) && isMapping(base.services)) {
      const services: Mapping = { ...base.services };
      for (const [name, service] of Object.entries(value)) {
        const before = services[name];
        services[name] = isMapping(before) && isMapping(service) ? mergeService(before, service) : service;
      }
      out.services = services;
    } else {
      out[key] = isMapping(base[key]) && isMapping(value) ? mergeMappings(base[key] as Mapping, value) : value;
    }
  }
  return out;
}

function mergeService(base: Mapping, over: Mapping): Mapping {
  const out: Mapping = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const before = base[key];
    if (before === undefined) out[key] = value;
    else if (KEYED.has(key)) out[key] = { ...asKeyed(before), ...asKeyed(value) };
    else if (NAMED.has(key)) out[key] = mergeMappings(asNamed(before), asNamed(value));
    else if (UNIONED.has(key) && Array.isArray(before) && Array.isArray(value)) out[key] = union(key, before, value);
    else if (isMapping(before) && isMapping(value)) out[key] = mergeMappings(before, value);
    else out[key] = value;
  }
  return out;
}

function mergeMappings(base: Mapping, over: Mapping): Mapping {
  const out: Mapping = { ...base };
  for (const [key, value] of Object.entries(over)) {
    out[key] = isMapping(base[key]) && isMapping(value) ? mergeMappings(base[key] as Mapping, value) : value;
  }
  return out;
}

/** Entries of both lists; a volume mounted at the same target is the later file's. */
function union(key: string, base: readonly Value[], over: readonly Value[]): Value[] {
  if (key === 'volumes') {
    const target = (v: Value): string => (typeof v === 'string' ? (v.split(':')[1] ?? v) : String((v as Mapping).target ?? ''));
    const replaced = new Set(over.map(target));
    return [...base.filter((v) => !replaced.has(target(v))), ...over];
  }
  const seen = new Set(base.map((v) => JSON.stringify(v)));
  return [...base, ...over.filter((v) => !seen.has(JSON.stringify(v)))];
}

/** `['A=1', 'B']` or `{A: 1}` as a mapping; a name without a value maps to null. */
export function asKeyed(value: Value): Mapping {
  if (isMapping(value)) return value;
  if (!Array.isArray(value)) return {};
  const out: Mapping = {};
  for (const entry of value) {
    const text = String(entry);
    const eq = text.indexOf('=');
    if (eq === -1) out[text] = null;
    else out[text.slice(0, eq)] = text.slice(eq + 1);
  }
  return out;
}

/** `['db', 'cache']` or `{db: {…}}` as a mapping of name → its settings (empty for a bare name). */
export function asNamed(value: Value): Mapping {
  if (isMapping(value)) return value;
  if (!Array.isArray(value)) return {};
  return Object.fromEntries(value.map((name) => [String(name), {}]));
}

export function isMapping(value: Value): value is Mapping {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
