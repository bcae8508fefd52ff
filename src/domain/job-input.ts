import { capabilities, cpuLimit, environment, memory, pidsLimit, type ServiceDefinition } from './definition.js';
import { InvalidDefinitionError, InvalidJobError } from './errors.js';
import { parseImageReference } from './image-reference.js';
import type { JobSpec } from './job.js';
import { assertSchedule } from './schedule.js';

/** `POST /jobs` as the API receives it (structure already checked by the schema). */
export interface JobInput {
  image?: string;
  service?: string;
  command?: readonly string[];
  environment?: readonly { name: string; value: string }[];
  'memory-reservation'?: number;
  'memory-limit'?: number;
  'cpu-limit'?: number;
  'pids-limit'?: number;
  'cap-add'?: readonly string[];
  timeout?: number;
  retries?: number;
  schedule?: string;
}

/** The service a job takes its image and environment from: what it serves now. */
export interface JobSource {
  readonly name: string;
  readonly definition: ServiceDefinition;
}

export const DEFAULT_JOB_MEMORY_MIB = 256;
export const MAX_JOB_RETRIES = 10;
export const MAX_JOB_TIMEOUT_SECONDS = 7 * 24 * 3600;

/**
 * A job's spec from its input and, for `berth run SERVICE`, the service's current
 * definition: its image and environment, with the input's variables over the service's.
 * Throws InvalidJobError, saying which key and why.
 */
export function parseJobInput(input: JobInput, source: JobSource | null): { spec: JobSpec; schedule: string | null } {
  try {
    return parse(input, source);
  } catch (error) {
    if (error instanceof InvalidDefinitionError) throw new InvalidJobError(error.message);
    throw error;
  }
}

function parse(input: JobInput, source: JobSource | null): { spec: JobSpec; schedule: string | null } {
  if ((input.image === undefined) === (input.service === undefined)) {
    throw new InvalidJobError("A job needs 'service' (to run with its image and environment) or 'image', not both");
  }
  if (input.image !== undefined) parseImageReference(input.image);
  const base = source?.definition ?? null;
  const limit = memory('memory-limit', input['memory-limit'] ?? base?.memoryLimitMiB ?? DEFAULT_JOB_MEMORY_MIB);
  const reservation = memory('memory-reservation', input['memory-reservation'] ?? Math.min(limit, base?.memoryReservationMiB ?? limit));
  if (reservation > limit) {
    throw new InvalidJobError(`'memory-reservation' (${reservation} MiB) may not be greater than 'memory-limit' (${limit} MiB)`);
  }
  const own = environment(input.environment ?? []);
  const names = new Set(own.map((e) => e.name));
  const command = input.command ?? null;
  if (command !== null && command.some((part) => part.includes('\0'))) throw new InvalidJobError("'command' may not contain NUL characters");
  const schedule = input.schedule ?? null;
  if (schedule !== null) assertSchedule(schedule);
  return {
    spec: {
      image: input.image ?? base?.image ?? null,
      containerTag: input.image === undefined ? (base?.containerTag ?? null) : null,
      service: source?.name ?? null,
      command: command !== null && command.length > 0 ? [...command] : (base?.command ?? null),
      environment: [...(base?.environment ?? []).filter((e) => !names.has(e.name)), ...own],
      memoryReservationMiB: reservation,
      memoryLimitMiB: limit,
      cpuLimit: input['cpu-limit'] === undefined ? (base?.cpuLimit ?? cpuLimit(undefined)) : cpuLimit(input['cpu-limit']),
      pidsLimit: input['pids-limit'] === undefined ? (base?.pidsLimit ?? pidsLimit(undefined)) : pidsLimit(input['pids-limit']),
      capAdd: input['cap-add'] === undefined ? (base?.capAdd ?? []) : capabilities(input['cap-add']),
      timeoutSeconds: timeout(input.timeout),
      retries: retries(input.retries),
      stack: base?.stack ?? null,
    },
    schedule,
  };
}

function timeout(value: number | undefined): number | null {
  if (value === undefined) return null;
  if (!Number.isFinite(value) || value <= 0 || value > MAX_JOB_TIMEOUT_SECONDS) {
    throw new InvalidJobError(`'timeout' must be a positive number of seconds, at most ${MAX_JOB_TIMEOUT_SECONDS}`);
  }
  return value;
}

function retries(value: number | undefined): number {
  if (value === undefined) return 0;
  if (!Number.isInteger(value) || value < 0 || value > MAX_JOB_RETRIES) {
    throw new InvalidJobError(`'retries' must be an integer from 0 to ${MAX_JOB_RETRIES}`);
  }
  return value;
}
