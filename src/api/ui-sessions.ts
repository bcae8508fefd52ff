import { createHash, randomBytes } from 'node:crypto';
import type { Clock } from '../domain/model.js';
import type { Principal } from './auth.js';

/** A dashboard session lasts a working day; signing out ends it at once. */
export const SESSION_TTL_MS = 12 * 60 * 60 * 1000;
export const SESSION_COOKIE = 'berth_session';

/**
 * The dashboard's sign-ins: a random id in an HttpOnly cookie stands for the token given at
 * sign-in, so the token itself is never kept where page scripts can read it (ADR 015). Kept
 * in memory, by the id's hash: a server restart signs everyone out, which is the safe way
 * to lose them.
 */
export class UiSessions {
  private readonly sessions = new Map<string, { principal: Principal; expiresAt: number }>();

  constructor(private readonly clock: Clock) {}

  create(principal: Principal): string {
    this.sweep();
    const id = randomBytes(32).toString('base64url');
    this.sessions.set(hash(id), { principal, expiresAt: this.clock.now() + SESSION_TTL_MS });
    return id;
  }

  principal(id: string): Principal | null {
    const session = this.sessions.get(hash(id));
    if (!session) return null;
    if (session.expiresAt <= this.clock.now()) {
      this.sessions.delete(hash(id));
      return null;
    }
    return session.principal;
  }

  end(id: string): void {
    this.sessions.delete(hash(id));
  }

  /** A project's sessions end with it (its token no longer stands). */
  endProject(project: string): void {
    for (const [key, session] of this.sessions) if (session.principal.kind === 'project' && session.principal.project === project) this.sessions.delete(key);
  }

  private sweep(): void {
    const now = this.clock.now();
    for (const [key, session] of this.sessions) if (session.expiresAt <= now) this.sessions.delete(key);
  }
}

function hash(id: string): string {
  return createHash('sha256').update(id).digest('hex');
}
