import type { JobProgress } from './job.js';

const PROGRESS = /^BERTH-PROGRESS\s+(\d+(?:\.\d+)?)\s*\/\s*(\d+(?:\.\d+)?)(?:\s+(.*))?$/;
const MAX_MESSAGE = 200;

/**
 * A job reports progress by printing `BERTH-PROGRESS <done>/<total> [message]` on a line of
 * its own, e.g. `BERTH-PROGRESS 40/100 indexing shard 4`. Anything else is an ordinary line.
 */
export function parseProgressLine(line: string): JobProgress | null {
  const match = PROGRESS.exec(line.trim());
  if (!match) return null;
  const done = Number(match[1]);
  const total = Number(match[2]);
  if (!Number.isFinite(done) || !Number.isFinite(total) || total <= 0) return null;
  const message = match[3]?.trim().slice(0, MAX_MESSAGE) || null;
  return { done: Math.min(done, total), total, message };
}

/** Whole percent, for bars and tables. */
export function percentOf(progress: JobProgress): number {
  return Math.floor((progress.done / progress.total) * 100);
}
