import type { StackSettings } from './compose/stack-settings.js';
import { InvalidDefinitionError } from './errors.js';
import { parseImageReference } from './image-reference.js';
import { printable } from './names.js';
import { parsePlacement, type Placement } from './placement-constraints.js';

/** A service definition as the servicectl API receives it (structure already checked by the schema). */
export interface DefinitionInput {
  'container-tag'?: string;
  image?: string;
  'memory-reservation': number;
  'memory-limit': number;
  'container-port': number;
  environment: readonly { name: string; value: string }[];
  replicas?: number;
  command?: readonly string[];
  'cpu-limit'?: number;
  'pids-limit'?: number;
  'cap-add'?: readonly string[];
  node?: string;
  constraints?: readonly string[];
  /** Variables whose values are stored sealed (src/secrets), never in the revision. */
  secrets?: readonly { name: string; value: string }[];
  /** The project's databases whose URL and variables the tasks get. */
  databases?: readonly string[];
  'colour-spread'?: boolean;
}

/** What a revision runs. Immutable once stored. */
export interface ServiceDefinition {
  /** `image` when given; otherwise `container-tag` in the service's own repository (resolved at deploy time). */
  readonly image: string | null;
  readonly containerTag: string | null;
  readonly memoryReservationMiB: number;
  readonly memoryLimitMiB: number;
  readonly containerPort: number;
  readonly environment: readonly { readonly name: string; readonly value: string }[];
  readonly replicas: number;
  readonly command: readonly string[] | null;
  /** CPU cores a task may use. */
  readonly cpuLimit: number;
  /** Processes and threads a task may have at once. */
  readonly pidsLimit: number;
  /** Capabilities beyond BASE_CAPABILITIES, each one of Docker's defaults. */
  readonly capAdd: readonly string[];
  /** A stack service's settings from its compose file; null for a service made with POST /services. */
  readonly stack: StackSettings | null;
  /** Where its tasks may run (`node`, `constraints`); absent or null: on any node. */
  readonly placement?: Placement | null;
  /** Names of the revision's secrets; their values are sealed in the store under the revision. */
  readonly secretNames?: readonly string[];
  /** The project's databases its tasks get the URL and variables of (`--db`). */
  readonly databases?: readonly string[];
  /** A colour's tasks keep off the nodes its service's other colours run on (NMPI runs each colour on a node of its own). */
  readonly colourSpread?: boolean;
}

/**
 * What every task keeps of the kernel's capabilities (all others are dropped): enough for an
 * image's entrypoint to bind a port below 1024, take ownership of its files and step down to
 * its own user (the official postgres and redis images do), and for the engine's init to
 * signal its children. NET_RAW is not among them: it would let a task forge packets on the
 * network it shares with others.
 */
export const BASE_CAPABILITIES = ['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'KILL', 'NET_BIND_SERVICE', 'SETGID', 'SETUID'] as const;

/** What `cap-add` may give back: the rest of Docker's default set, nothing beyond it. */
export const ADDABLE_CAPABILITIES = ['AUDIT_WRITE', 'FSETID', 'MKNOD', 'NET_RAW', 'SETFCAP', 'SETPCAP', 'SYS_CHROOT'] as const;

export const DEFAULT_CPU_LIMIT = 1;
export const MAX_CPU_LIMIT = 64;
export const DEFAULT_PIDS_LIMIT = 512;
export const MIN_PIDS_LIMIT = 16;
export const MAX_PIDS_LIMIT = 65_536;

/** The limits a revision stored before they existed runs with. */
export function withLimits(definition: Omit<ServiceDefinition, 'cpuLimit' | 'pidsLimit' | 'capAdd' | 'stack'> & Partial<ServiceDefinition>): ServiceDefinition {
  return {
    ...definition,
    cpuLimit: definition.cpuLimit ?? DEFAULT_CPU_LIMIT,
    pidsLimit: definition.pidsLimit ?? DEFAULT_PIDS_LIMIT,
    capAdd: definition.capAdd ?? [],
    stack: definition.stack ?? null,
  };
}

export const MIN_MEMORY_MIB = 6; // the engine refuses limits below 6 MiB
export const MAX_MEMORY_MIB = 1024 * 1024;
export const MAX_REPLICAS = 64;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
/** Variables berth sets itself; a definition may not override them. */
export const RESERVED_ENV = new Set(['CONTEXT_ROOT']);

export function parseDefinition(input: DefinitionInput): ServiceDefinition {
  const tag = input['container-tag'] ?? null;
  const image = input.image ?? null;
  if (tag === null && image === null) {
    throw new InvalidDefinitionError("A definition needs 'container-tag' (or 'image')");
  }
  if (tag !== null && !TAG.test(tag)) {
    throw new InvalidDefinitionError(
      `'container-tag' must be a Docker tag: letters, digits, '_', '.', '-', at most 128 characters`,
    );
  }
  if (image !== null) parseImageReference(image);
  const reservation = memory('memory-reservation', input['memory-reservation']);
  const limit = memory('memory-limit', input['memory-limit']);
  if (reservation > limit) {
    throw new InvalidDefinitionError(
      `'memory-reservation' (${reservation} MiB) may not be greater than 'memory-limit' (${limit} MiB)`,
    );
  }
  const port = input['container-port'];
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new InvalidDefinitionError(`'container-port' must be an integer between 1 and 65535`);
  }
  const replicas = input.replicas ?? 1;
  if (!Number.isInteger(replicas) || replicas < 1 || replicas > MAX_REPLICAS) {
    throw new InvalidDefinitionError(`'replicas' must be an integer between 1 and ${MAX_REPLICAS}`);
  }
  return {
    image,
    containerTag: image === null ? tag : null,
    memoryReservationMiB: reservation,
    memoryLimitMiB: limit,
    containerPort: port,
    environment: environment(input.environment),
    replicas,
    command: input.command && input.command.length > 0 ? [...input.command] : null,
    cpuLimit: cpuLimit(input['cpu-limit']),
    pidsLimit: pidsLimit(input['pids-limit']),
    capAdd: capabilities(input['cap-add']),
    stack: null,
    ...placementOf(input),
    ...secretsAndDatabases(input),
    ...(input['colour-spread'] === true ? { colourSpread: true } : {}),
  };
}

/** Only a definition that restricts its placement carries one: others read as before. */
function placementOf(input: DefinitionInput): { placement?: Placement } {
  const placement = parsePlacement(input.node, input.constraints);
  return placement === null ? {} : { placement };
}

/**
 * Secret names and databases, checked against each other and the environment: a variable comes
 * from one place only. The values are left out: they go to the secret store, never into the revision.
 */
function secretsAndDatabases(input: DefinitionInput): Pick<ServiceDefinition, 'secretNames' | 'databases'> {
  const taken = new Set(input.environment.map((e) => e.name));
  const secretNames: string[] = [];
  for (const { name, value } of input.secrets ?? []) {
    if (!ENV_NAME.test(name) || RESERVED_ENV.has(name)) throw new InvalidDefinitionError(`Secret name '${name.slice(0, 64)}' is not a valid variable name`);
    if (taken.has(name)) throw new InvalidDefinitionError(`'${name}' is given twice (as a secret, and in the environment or as another secret)`);
    if (value.includes('\0')) throw new InvalidDefinitionError(`Secret '${name}' contains a NUL character`);
    taken.add(name);
    secretNames.push(name);
  }
  const databases = [...new Set(input.databases ?? [])];
  if (databases.length !== (input.databases ?? []).length) throw new InvalidDefinitionError("'databases' names a database twice");
  return { ...(secretNames.length > 0 ? { secretNames } : {}), ...(databases.length > 0 ? { databases } : {}) };
}

export function cpuLimit(value: number | undefined): number {
  if (value === undefined) return DEFAULT_CPU_LIMIT;
  if (!Number.isFinite(value) || value < 0.01 || value > MAX_CPU_LIMIT) {
    throw new InvalidDefinitionError(`'cpu-limit' must be a number of CPU cores between 0.01 and ${MAX_CPU_LIMIT}`);
  }
  return Math.round(value * 100) / 100;
}

export function pidsLimit(value: number | undefined): number {
  if (value === undefined) return DEFAULT_PIDS_LIMIT;
  if (!Number.isInteger(value) || value < MIN_PIDS_LIMIT || value > MAX_PIDS_LIMIT) {
    throw new InvalidDefinitionError(`'pids-limit' must be an integer between ${MIN_PIDS_LIMIT} and ${MAX_PIDS_LIMIT}`);
  }
  return value;
}

export function capabilities(names: readonly string[] | undefined): string[] {
  const result = new Set<string>();
  for (const raw of names ?? []) {
    const name = raw.toUpperCase().replace(/^CAP_/, '');
    if ((BASE_CAPABILITIES as readonly string[]).includes(name)) continue;
    if (!(ADDABLE_CAPABILITIES as readonly string[]).includes(name)) {
      throw new InvalidDefinitionError(
        `'cap-add' may only name ${ADDABLE_CAPABILITIES.join(', ')} (Docker's defaults that tasks do not keep), not '${printable(raw)}'`,
      );
    }
    result.add(name);
  }
  return [...result].sort();
}

export function memory(key: string, value: number): number {
  if (!Number.isInteger(value) || value < MIN_MEMORY_MIB || value > MAX_MEMORY_MIB) {
    throw new InvalidDefinitionError(`'${key}' must be an integer number of MiB between ${MIN_MEMORY_MIB} and ${MAX_MEMORY_MIB}`);
  }
  return value;
}

export function environment(entries: DefinitionInput['environment']): ServiceDefinition['environment'] {
  const seen = new Set<string>();
  const result: { name: string; value: string }[] = [];
  for (const { name, value } of entries) {
    if (!ENV_NAME.test(name)) {
      throw new InvalidDefinitionError(
        `Environment variable name '${name.slice(0, 64)}' is not valid: use letters, digits and '_', not starting with a digit`,
      );
    }
    if (value.includes('\0')) {
      throw new InvalidDefinitionError(`Environment variable '${name}' contains a NUL character`);
    }
    if (seen.has(name)) {
      throw new InvalidDefinitionError(`Environment variable '${name}' is given twice`);
    }
    seen.add(name);
    // Old clients set CONTEXT_ROOT themselves (the seed's example does); berth sets the right value anyway.
    if (RESERVED_ENV.has(name)) continue;
    result.push({ name, value });
  }
  return result;
}

/** The image reference the engine runs for a revision. */
export function imageReference(definition: ServiceDefinition, repositoryUri: string): string {
  return definition.image ?? `${repositoryUri}:${definition.containerTag ?? 'latest'}`;
}
