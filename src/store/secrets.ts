import type { Clock } from '../domain/model.js';
import type { Db } from './database.js';

/** A secret as stored: sealed with the key `keyId` (src/secrets/cipher.ts); the store never sees a value. */
export interface SealedSecret {
  readonly owner: string;
  readonly name: string;
  readonly keyId: string;
  readonly sealed: Buffer;
}

interface Row {
  owner: string;
  name: string;
  key_id: string;
  sealed: Buffer;
}

const toSecret = (r: Row): SealedSecret => ({ owner: r.owner, name: r.name, keyId: r.key_id, sealed: r.sealed });

/** Sealed secrets by owner (`database:<id>`, `revision:<service>:<n>`, `stack:<id>`) and name. */
export class SecretRepository {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
  ) {}

  put(secret: SealedSecret): void {
    this.db
      .prepare('INSERT INTO secrets (owner, name, key_id, sealed, updated_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (owner, name) DO UPDATE SET key_id = excluded.key_id, sealed = excluded.sealed, updated_at = excluded.updated_at')
      .run(secret.owner, secret.name, secret.keyId, secret.sealed, this.clock.now());
  }

  get(owner: string, name: string): SealedSecret | null {
    const row = this.db.prepare('SELECT owner, name, key_id, sealed FROM secrets WHERE owner = ? AND name = ?').get(owner, name) as Row | undefined;
    return row ? toSecret(row) : null;
  }

  ofOwner(owner: string): SealedSecret[] {
    return (this.db.prepare('SELECT owner, name, key_id, sealed FROM secrets WHERE owner = ? ORDER BY name').all(owner) as Row[]).map(toSecret);
  }

  deleteOwner(owner: string): void {
    this.db.prepare('DELETE FROM secrets WHERE owner = ?').run(owner);
  }

  /** How many secrets each key seals. */
  countsByKey(): Map<string, number> {
    const rows = this.db.prepare('SELECT key_id, count(*) AS n FROM secrets GROUP BY key_id').all() as { key_id: string; n: number }[];
    return new Map(rows.map((r) => [r.key_id, r.n]));
  }

  /** One secret sealed with the key, to check that a key file's key of that id is the right one. */
  sampleOf(keyId: string): SealedSecret | null {
    const row = this.db.prepare('SELECT owner, name, key_id, sealed FROM secrets WHERE key_id = ? LIMIT 1').get(keyId) as Row | undefined;
    return row ? toSecret(row) : null;
  }

  /** Secrets not sealed with `keyId`, a batch at a time. */
  notSealedWith(keyId: string, limit: number): SealedSecret[] {
    return (this.db.prepare('SELECT owner, name, key_id, sealed FROM secrets WHERE key_id <> ? LIMIT ?').all(keyId, limit) as Row[]).map(toSecret);
  }

  /** Replaces a secret's seal only if it is still sealed as read (nobody changed it meanwhile); true when it did. */
  reseal(read: SealedSecret, keyId: string, sealed: Buffer): boolean {
    const info = this.db
      .prepare('UPDATE secrets SET key_id = ?, sealed = ? WHERE owner = ? AND name = ? AND key_id = ? AND sealed = ?')
      .run(keyId, sealed, read.owner, read.name, read.keyId, read.sealed);
    return info.changes === 1;
  }
}
