import type { DeploymentStep } from './deployment.js';
import { InvalidDatabaseError } from './errors.js';
import { parseImageReference } from './image-reference.js';
import { printable } from './names.js';
import { ENGINES, isEngine, type DatabaseEngine } from './database-engines.js';
import { MAX_MEMORY_MIB, MIN_MEMORY_MIB } from './definition.js';
import { assertSchedule } from './schedule.js';

/** What a database runs: set at create, changed by update (each change a stop-first replacement). */
export interface DatabaseDefinition {
  readonly image: string;
  readonly memoryReservationMiB: number;
  readonly memoryLimitMiB: number;
}

/** ACTIVE: wanted running; REMOVED: `db rm` without --delete-data (volume, password and backups kept); DELETING: on its way out. */
export type DatabaseStatus = 'ACTIVE' | 'REMOVED' | 'DELETING';

export interface Database {
  readonly id: number;
  readonly project: string;
  readonly name: string;
  readonly engine: DatabaseEngine;
  readonly status: DatabaseStatus;
  /** The definition wanted, and its revision. */
  readonly definition: DatabaseDefinition;
  readonly revision: number;
  /** The definition that last became ready, and its revision; null until the first did. */
  readonly serving: DatabaseDefinition | null;
  readonly servingRevision: number | null;
  /** The stop-first step a change of definition is at (domain/deployment.ts); null when none runs. */
  readonly step: DeploymentStep | null;
  readonly stepStartedAt: number;
  /** Why the last change failed, when it did. */
  readonly reason: string | null;
  /** Set by `db rm --delete-data`: the volume and the backups go too. */
  readonly deleteData: boolean;
  readonly backupSchedule: string | null;
  readonly backupsKept: number;
  readonly nextBackupAt: number | null;
  readonly crashCount: number;
  readonly lastCrashAt: number | null;
  readonly createdAt: number;
}

export interface DatabaseEvent {
  readonly id: number;
  readonly createdAt: number;
  readonly message: string;
}

export const MAX_DATABASE_NAME_LENGTH = 32;
const NAME = /^[a-z](?:[a-z0-9-]*[a-z0-9])?$/;
export const DEFAULT_BACKUPS_KEPT = 7;
export const MAX_BACKUPS_KEPT = 1000;

/** Names are hostnames on the project's network and PostgreSQL database names: a-z first, then a-z, 0-9 and '-'. */
export function assertDatabaseName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || !NAME.test(name) || name.length > MAX_DATABASE_NAME_LENGTH) {
    throw new InvalidDatabaseError(
      `Invalid database name '${printable(String(name))}': begin with a-z, use only a-z, 0-9 and '-', end with a letter or digit, at most ${MAX_DATABASE_NAME_LENGTH} characters`,
    );
  }
}

export interface DatabaseInput {
  readonly engine?: string;
  readonly image?: string;
  readonly version?: string;
  readonly 'memory-reservation'?: number;
  readonly 'memory-limit'?: number;
  readonly 'backup-schedule'?: string | null;
  readonly keep?: number;
}

export interface ParsedDatabase {
  readonly engine: DatabaseEngine;
  readonly definition: DatabaseDefinition;
  readonly backupSchedule: string | null;
  readonly backupsKept: number;
}

/** A new database's settings, with the engine's defaults for what is not given. */
export function parseNewDatabase(input: DatabaseInput): ParsedDatabase {
  if (input.engine === undefined || !isEngine(input.engine)) {
    throw new InvalidDatabaseError(`'engine' must be one of ${Object.keys(ENGINES).join(', ')}, not '${printable(String(input.engine))}'`);
  }
  const profile = ENGINES[input.engine];
  return {
    engine: input.engine,
    definition: parseChange({ image: profile.image(null), memoryReservationMiB: profile.memory.reservation, memoryLimitMiB: profile.memory.limit }, input.engine, input),
    backupSchedule: schedule(input['backup-schedule'] ?? null),
    backupsKept: kept(input.keep ?? DEFAULT_BACKUPS_KEPT),
  };
}

/** An existing database's definition with the changes asked for. */
export function parseChange(current: DatabaseDefinition, engine: DatabaseEngine, input: DatabaseInput): DatabaseDefinition {
  if (input.engine !== undefined && input.engine !== engine) throw new InvalidDatabaseError(`A ${engine} database cannot become ${printable(input.engine)}: dump it and restore into a new one`);
  if (input.image !== undefined && input.version !== undefined) throw new InvalidDatabaseError("Give 'image' or 'version', not both");
  let image = current.image;
  if (input.version !== undefined) {
    if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(input.version)) throw new InvalidDatabaseError(`'version' must be an image tag such as 15 or 7.2, not '${printable(input.version)}'`);
    image = ENGINES[engine].image(input.version);
  }
  if (input.image !== undefined) {
    parseImageReference(input.image);
    image = input.image;
  }
  const reservation = memory('memory-reservation', input['memory-reservation'] ?? current.memoryReservationMiB);
  const limit = memory('memory-limit', input['memory-limit'] ?? Math.max(current.memoryLimitMiB, reservation));
  if (reservation > limit) throw new InvalidDatabaseError(`'memory-reservation' (${reservation} MiB) may not be greater than 'memory-limit' (${limit} MiB)`);
  return { image, memoryReservationMiB: reservation, memoryLimitMiB: limit };
}

export function parseBackupSettings(input: DatabaseInput, current: { backupSchedule: string | null; backupsKept: number }): { backupSchedule: string | null; backupsKept: number } {
  return {
    backupSchedule: input['backup-schedule'] === undefined ? current.backupSchedule : schedule(input['backup-schedule']),
    backupsKept: input.keep === undefined ? current.backupsKept : kept(input.keep),
  };
}

function schedule(text: string | null): string | null {
  if (text === null || text === '') return null;
  try {
    assertSchedule(text);
  } catch (error) {
    throw new InvalidDatabaseError((error as Error).message.replace("'schedule'", "'backup-schedule'"));
  }
  return text;
}

function kept(n: number): number {
  if (!Number.isInteger(n) || n < 1 || n > MAX_BACKUPS_KEPT) throw new InvalidDatabaseError(`'keep' must be an integer from 1 to ${MAX_BACKUPS_KEPT}`);
  return n;
}

function memory(key: string, value: number): number {
  if (!Number.isInteger(value) || value < MIN_MEMORY_MIB || value > MAX_MEMORY_MIB) {
    throw new InvalidDatabaseError(`'${key}' must be an integer number of MiB from ${MIN_MEMORY_MIB} to ${MAX_MEMORY_MIB}`);
  }
  return value;
}
