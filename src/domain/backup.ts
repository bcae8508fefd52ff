import type { DumpFormat } from './database-engines.js';

export type BackupStatus = 'queued' | 'taking' | 'verifying' | 'verified' | 'failed';

/** Rows per table (`schema.table`), or `keys` for Redis, as counted in the dump's own snapshot. */
export type Counts = Readonly<Record<string, number>>;

export interface Backup {
  readonly id: number;
  readonly databaseId: number;
  readonly status: BackupStatus;
  /** What asked for it: its schedule, a user, or a user asking to check one again. */
  readonly trigger: 'schedule' | 'manual';
  readonly format: DumpFormat;
  readonly file: string | null;
  readonly size: number | null;
  readonly sha256: string | null;
  readonly counts: Counts | null;
  readonly dumpMs: number | null;
  readonly verifyMs: number | null;
  readonly reason: string | null;
  readonly createdAt: number;
  readonly takenAt: number | null;
  readonly finishedAt: number | null;
}

export function isBackupOpen(status: BackupStatus): boolean {
  return status === 'queued' || status === 'taking' || status === 'verifying';
}

/**
 * Whether what a scratch restore holds is what the dump's snapshot held: every table with the
 * same number of rows (no table missing, none extra); for Redis, every key, less at most those
 * with a time to live that ran out since (`expiring`). Null when it is; else what differs.
 */
export function compareCounts(recorded: Counts, restored: Counts): string | null {
  const differences: string[] = [];
  const expiring = recorded['expiring-keys'] ?? 0;
  for (const [table, count] of Object.entries(recorded)) {
    if (table === 'expiring-keys') continue;
    const got = restored[table];
    if (got === undefined) differences.push(`${table} is missing`);
    else if (table === 'keys' ? got < count - expiring || got > count : got !== count) differences.push(`${table}: ${got} instead of ${count}`);
  }
  for (const table of Object.keys(restored)) if (!(table in recorded)) differences.push(`${table} was not in the dump`);
  return differences.length === 0 ? null : differences.slice(0, 10).join('; ') + (differences.length > 10 ? ` (and ${differences.length - 10} more)` : '');
}

/**
 * Which finished backups go: the newest `kept` verified ones stay, and so do failed ones newer
 * than the oldest of those (up to `kept` of them, to say what went wrong). A failed backup never
 * pushes out a verified one.
 */
export function backupsToPrune(backups: readonly Backup[], kept: number, inUse: ReadonlySet<number>): Backup[] {
  const finished = [...backups].filter((b) => !isBackupOpen(b.status)).sort((a, b) => b.id - a.id);
  const verified = finished.filter((b) => b.status === 'verified');
  const keep = new Set(verified.slice(0, kept).map((b) => b.id));
  const oldestKept = Math.min(...keep);
  for (const failed of finished.filter((b) => b.status === 'failed' && (keep.size < kept || b.id > oldestKept)).slice(0, kept)) keep.add(failed.id);
  return finished.filter((b) => !keep.has(b.id) && !inUse.has(b.id));
}
