import type { DumpFormat } from './database-engines.js';

/**
 * queued: the file is complete; loading: into a fresh database (or a scratch task), for an upload
 * to PostgreSQL while it still arrives (`receiving`); swapping: it takes the old data's place.
 */
export type RestoreStatus = 'queued' | 'loading' | 'swapping' | 'succeeded' | 'failed';

export interface DatabaseRestore {
  readonly id: number;
  readonly databaseId: number;
  /** The backup it restores; null for an uploaded file. */
  readonly backupId: number | null;
  readonly file: string;
  readonly format: DumpFormat;
  /** 0 until an upload loaded while it arrives is complete. */
  readonly size: number;
  /** The upload is still arriving (loaded as it comes): never swapped in before it is whole. */
  readonly receiving: boolean;
  readonly status: RestoreStatus;
  readonly reason: string | null;
  readonly createdAt: number;
  readonly finishedAt: number | null;
  /** A database the restore replaced, still to be dropped (PostgreSQL), once it has succeeded. */
  readonly leftover: string | null;
}

export function isRestoreOpen(status: RestoreStatus): boolean {
  return status === 'queued' || status === 'loading' || status === 'swapping';
}
