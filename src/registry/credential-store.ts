import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { systemClock, type Clock } from '../domain/model.js';
import type { Db } from '../store/database.js';

/** What `?view=docker` hands out; long enough for a build-and-push session. */
export const DEFAULT_CREDENTIAL_TTL_MS = 12 * 60 * 60 * 1000;

export interface IssuedCredential {
  readonly user: string;
  /** Shown once to the caller; only its SHA-256 is stored. */
  readonly password: string;
  readonly expiresAt: number;
}

/** The service a valid credential belongs to. */
export interface CredentialOwner {
  readonly serviceId: number;
  readonly project: string;
  readonly service: string;
}

interface CredentialRow {
  secret_hash: Buffer;
  expires_at: number;
  revoked_at: number | null;
  service_id: number;
  project: string;
  name: string;
  status: string;
}

const USER_PREFIX = 'svc-';
// Compared against when the user is unknown, so a miss costs the same as a wrong password.
const NO_SUCH_HASH = Buffer.alloc(32);

/**
 * Per-service registry credentials in `registry_credentials`. Passwords are
 * 256 random bits, so an unsalted SHA-256 is enough to make a stolen database
 * useless for logging in; a slow hash would only slow every `docker push`.
 */
export class CredentialStore {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock = systemClock,
  ) {}

  issue(serviceId: number, ttlMs: number = DEFAULT_CREDENTIAL_TTL_MS): IssuedCredential {
    const now = this.clock.now();
    const user = `${USER_PREFIX}${randomBytes(9).toString('hex')}`;
    const password = randomBytes(32).toString('base64url');
    const expiresAt = now + ttlMs;
    this.db.transaction(() => {
      // Every `view=docker` issues a new pair; expired ones are useless, so they go here.
      this.db.prepare('DELETE FROM registry_credentials WHERE expires_at <= ?').run(now);
      this.db
        .prepare(
          `INSERT INTO registry_credentials (user, service_id, secret_hash, created_at, expires_at)
           VALUES (?, ?, ?, ?, ?)`,
        )
        .run(user, serviceId, sha256(password), now, expiresAt);
    })();
    return { user, password, expiresAt };
  }

  /** The owner of a live credential; null when unknown, wrong, expired, revoked, or its service is being deleted. */
  verify(user: string, password: string): CredentialOwner | null {
    const row = this.db
      .prepare(
        `SELECT c.secret_hash, c.expires_at, c.revoked_at, s.id AS service_id, s.project, s.name, s.status
           FROM registry_credentials c JOIN services s ON s.id = c.service_id
          WHERE c.user = ?`,
      )
      .get(user) as CredentialRow | undefined;
    const matches = timingSafeEqual(sha256(password), row?.secret_hash ?? NO_SUCH_HASH);
    if (!row || !matches) return null;
    if (row.revoked_at !== null || row.expires_at <= this.clock.now() || row.status === 'DRAINING') return null;
    return { serviceId: row.service_id, project: row.project, service: row.name };
  }

  /** Revokes every credential of the service; returns how many were live. */
  revokeAll(serviceId: number): number {
    const info = this.db
      .prepare('UPDATE registry_credentials SET revoked_at = ? WHERE service_id = ? AND revoked_at IS NULL')
      .run(this.clock.now(), serviceId);
    return info.changes;
  }
}

function sha256(secret: string): Buffer {
  return createHash('sha256').update(secret, 'utf8').digest();
}
