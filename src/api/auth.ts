import { timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { AdminRequiredError, TokenInvalidError, TooManyAuthFailuresError } from '../domain/errors.js';
import { hashSecret, type ProjectRepository } from '../store/projects.js';
import type { AuthFailureLimiter } from './auth-limiter.js';

export type Principal = { readonly kind: 'admin' } | { readonly kind: 'project'; readonly project: string };

/** Reads `X-Auth-Token: T` or `Authorization: Bearer T`. */
export function tokenOf(request: FastifyRequest): string | null {
  const header = request.headers['x-auth-token'];
  if (typeof header === 'string' && header.length > 0) return header;
  const authorization = request.headers.authorization;
  if (typeof authorization === 'string') {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (match?.[1]) return match[1];
  }
  return null;
}

export class Authenticator {
  private readonly adminHash: Buffer;

  constructor(
    adminToken: string,
    private readonly projects: ProjectRepository,
    private readonly limiter: AuthFailureLimiter,
  ) {
    this.adminHash = hashSecret(adminToken);
  }

  /**
   * The token is checked first: a valid token is never refused, whatever failures others
   * made from the same address (every local CLI user, every client behind one proxy).
   * Only failures are counted and limited.
   */
  authenticate(request: FastifyRequest): Principal {
    const token = tokenOf(request);
    if (token !== null && token.length <= 512) {
      if (timingSafeEqual(hashSecret(token), this.adminHash)) return { kind: 'admin' };
      const project = this.projects.projectForToken(token);
      if (project !== null) return { kind: 'project', project };
    }
    const wait = this.limiter.retryAfter(request.ip);
    if (wait > 0) throw new TooManyAuthFailuresError(wait);
    this.limiter.recordFailure(request.ip);
    throw new TokenInvalidError();
  }

  requireAdmin(request: FastifyRequest): void {
    if (this.authenticate(request).kind !== 'admin') throw new AdminRequiredError();
  }

  /** The project a request acts on: a project token acts on its own project only. */
  requireProject(request: FastifyRequest): string {
    const principal = this.authenticate(request);
    if (principal.kind === 'project') return principal.project;
    throw new TokenInvalidError();
  }
}
