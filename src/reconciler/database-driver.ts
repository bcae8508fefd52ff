import type { Readable, Writable } from 'node:stream';
import type { Counts } from '../domain/backup.js';
import type { DatabaseEngine, DumpFormat } from '../domain/database-engines.js';

/** A database's task as a driver reaches it: by its address on the project's network, and inside it. */
export interface DatabaseTarget {
  readonly taskId: string;
  readonly address: string;
  /** Where the engine listens at `address`: its own port, or the one its node published it on. */
  readonly port: number;
  /** The database's name (PostgreSQL's database, not the server). */
  readonly database: string;
  readonly password: string;
}

export interface Readiness {
  readonly ready: boolean;
  /** Why it is not ready, in the engine's words. */
  readonly description: string | null;
}

/** A dump file to read from its start, as often as needed. */
export interface DumpSource {
  open(): Readable;
  readonly size: number;
}

/**
 * What berth does inside one engine: readiness over TCP, consistent dumps (counted in the same
 * snapshot), loading a dump into a fresh place, and counting what is there. One implementation
 * per engine (src/databases); the controllers know no engine's protocol.
 */
export interface DatabaseDriver {
  readonly engine: DatabaseEngine;
  probe(target: DatabaseTarget): Promise<Readiness>;
  /** Writes a consistent dump to `out` (ended when complete); with `count`, the counts of the same snapshot. */
  dump(target: DatabaseTarget, format: DumpFormat, out: Writable, options: { count: boolean; signal?: AbortSignal }): Promise<Counts | null>;
  /** Counts what the database holds (rows per table, or keys). */
  count(target: DatabaseTarget): Promise<Counts>;
  /** True when it holds anything (a table, a key): a restore then asks first. */
  hasData(target: DatabaseTarget): Promise<boolean>;
  /** A scratch task made, not started: what must be in place before it starts (Redis reads its RDB file at start). */
  beforeScratchStart(taskId: string, source: DumpSource): Promise<void>;
  /** The scratch task is ready: loads the dump into it (PostgreSQL restores into its database). */
  loadScratch(target: DatabaseTarget, source: DumpSource, format: DumpFormat): Promise<void>;
}

/** PostgreSQL restores into a fresh database beside the serving one, then swaps their names. */
export interface FreshDatabaseRestore {
  /** Makes `fresh` (empty, made again if a crash left one) and loads the dump into it. */
  loadFresh(target: DatabaseTarget, fresh: string, source: DumpSource, format: DumpFormat): Promise<void>;
  /**
   * Puts `fresh` in the database's place and the old data under the name `old` (dropped later
   * with `drop`). Repeated after a crash, it finishes what it began.
   */
  swap(target: DatabaseTarget, fresh: string, old: string): Promise<void>;
  drop(target: DatabaseTarget, database: string): Promise<void>;
}

/** Redis takes a scratch task's data by replicating from it, serving its old data until the copy is complete. */
export interface ReplicaRestore {
  /** Starts (or keeps) following the scratch task. */
  follow(target: DatabaseTarget, scratchAddress: string): Promise<void>;
  /** True once the copy is complete; then it follows nobody again. */
  caughtUp(target: DatabaseTarget): Promise<boolean>;
  /** Follows nobody (after a failure, or at the end). */
  unfollow(target: DatabaseTarget): Promise<void>;
}
