import { appendFile } from 'node:fs/promises';
import type { Clock } from '../domain/model.js';
import type { Db } from './database.js';

export interface AuditEntry {
  readonly at: number;
  /** "admin" or "project:<name>", and the client address. */
  readonly actor: string;
  readonly action: string;
  readonly target: string;
  /** Plain facts about the change; never environment values or credentials. */
  readonly detail: string | null;
}

/**
 * Who did what and when. Kept in the store (queried by GET /audit) and
 * appended as JSON lines to a file under the data dir, like a deploy log an
 * operator can read or ship without asking the API.
 */
export class AuditTrail {
  private writes: Promise<void> = Promise.resolve();

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly file: string | null,
    private readonly onFileError: (error: Error) => void,
  ) {}

  record(entry: Omit<AuditEntry, 'at'>): void {
    const full: AuditEntry = { at: this.clock.now(), ...entry };
    this.db
      .prepare('INSERT INTO audit (at, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)')
      .run(full.at, full.actor, full.action, full.target, full.detail);
    if (this.file === null) return;
    const line = `${JSON.stringify({ ...full, at: new Date(full.at).toISOString() })}\n`;
    const file = this.file;
    // Appends are serialised so lines keep their order; the store holds the same entry if the file write fails.
    this.writes = this.writes.then(() => appendFile(file, line, { mode: 0o600 })).catch((error: Error) => this.onFileError(error));
  }

  /** Newest first. */
  list(limit: number): AuditEntry[] {
    return this.db
      .prepare('SELECT at, actor, action, target, detail FROM audit ORDER BY id DESC LIMIT ?')
      .all(limit) as AuditEntry[];
  }

  /** Resolves once every line so far is in the file. */
  flushed(): Promise<void> {
    return this.writes;
  }
}
