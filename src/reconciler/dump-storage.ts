import type { Writable } from 'node:stream';
import type { DumpSource } from './database-driver.js';

/** A file being written; nothing of it is listed until `commit` has renamed it into place. */
export interface DumpWriter {
  readonly stream: Writable;
  /** Waits for every byte, fsyncs, renames into place; answers its name, size and SHA-256. */
  commit(): Promise<{ readonly file: string; readonly size: number; readonly sha256: string }>;
  /** Removes what was written. */
  abort(): Promise<void>;
}

/**
 * Where dumps are kept: backups, and files uploaded to restore. Files under the data dir now;
 * an object store is another implementation of the same port.
 */
export interface DumpStorage {
  create(name: string): Promise<DumpWriter>;
  source(file: string, size: number): DumpSource;
  /** null when the file holds what its checksum says; else what is wrong with it. */
  check(file: string, size: number, sha256: string): Promise<string | null>;
  remove(file: string): Promise<void>;
  /**
   * What an earlier run left: removes every file written before this storage was opened that is
   * not in `keep` (half-written ones included). Files written since are in use (an upload on
   * its way) and stay.
   */
  removeLeftovers(keep: ReadonlySet<string>): Promise<string[]>;
}
