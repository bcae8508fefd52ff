import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { ProjectExistsError } from '../domain/errors.js';
import type { Clock } from '../domain/model.js';
import type { Db } from './database.js';

interface TokenRow {
  project: string;
  secret_hash: Buffer;
}

/**
 * Projects and their tokens. A token is `<id>.<secret>`: the id finds the row,
 * the secret is compared by hash in constant time, and only the hash is stored.
 */
export class ProjectRepository {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
  ) {}

  /** Creates the project and returns its first token, the only time it is seen in clear. */
  create(name: string): string {
    const now = this.clock.now();
    return this.db.transaction(() => {
      const exists = this.db.prepare('SELECT 1 FROM projects WHERE name = ?').get(name);
      if (exists) throw new ProjectExistsError(name);
      this.db.prepare('INSERT INTO projects (name, created_at) VALUES (?, ?)').run(name, now);
      return this.issueToken(name, now);
    })();
  }

  list(): string[] {
    return (this.db.prepare('SELECT name FROM projects ORDER BY name').all() as { name: string }[]).map((r) => r.name);
  }

  /** The project a token belongs to, or null. */
  projectForToken(token: string): string | null {
    const dot = token.indexOf('.');
    if (dot <= 0) return null;
    const row = this.db
      .prepare('SELECT project, secret_hash FROM tokens WHERE id = ?')
      .get(token.slice(0, dot)) as TokenRow | undefined;
    if (!row) return null;
    return timingSafeEqual(hashSecret(token.slice(dot + 1)), row.secret_hash) ? row.project : null;
  }

  private issueToken(project: string, now: number): string {
    const id = randomBytes(6).toString('hex');
    const secret = randomBytes(24).toString('base64url');
    this.db
      .prepare('INSERT INTO tokens (id, project, secret_hash, created_at) VALUES (?, ?, ?, ?)')
      .run(id, project, hashSecret(secret), now);
    return `${id}.${secret}`;
  }
}

/** Tokens are 192 random bits, so a fast hash is enough: there is nothing to brute-force. */
export function hashSecret(secret: string): Buffer {
  return createHash('sha256').update(secret).digest();
}
