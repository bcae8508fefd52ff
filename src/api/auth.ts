import { timingSafeEqual } from 'node:crypto';
import type {} from '@fastify/cookie';
import type { FastifyRequest } from 'fastify';
import { AdminRequiredError, TokenInvalidError, TooManyAuthFailuresError } from '../domain/errors.js';
import { hashSecret, type ProjectRepository } from '../store/projects.js';
import type { AuthFailureLimiter } from './auth-limiter.js';
import { SESSION_COOKIE, type UiSessions } from './ui-sessions.js';

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

/** Sent by the dashboard with every request that changes something: a cross-site form cannot send it. */
export const UI_HEADER = 'x-berth-ui';
/** The admin acts on one project's resources by naming it (the dashboard's project picker). */
export const PROJECT_HEADER = 'x-berth-project';

const SAFE_METHODS = new Set(['GET', 'HEAD']);

export class Authenticator {
  private readonly adminHash: Buffer;

  constructor(
    adminToken: string,
    private readonly projects: ProjectRepository,
    private readonly limiter: AuthFailureLimiter,
    private readonly sessions: UiSessions | null = null,
  ) {
    this.adminHash = hashSecret(adminToken);
  }

  /** Whose token this is, or null; never counts as a failure (the dashboard's sign-in asks with it). */
  principalOfToken(token: string): Principal | null {
    if (token.length === 0 || token.length > 512) return null;
    if (timingSafeEqual(hashSecret(token), this.adminHash)) return { kind: 'admin' };
    const project = this.projects.projectForToken(token);
    return project === null ? null : { kind: 'project', project };
  }

  /**
   * The token is checked first: a valid token is never refused, whatever failures others
   * made from the same address (every local CLI user, every client behind one proxy).
   * Only failures are counted and limited.
   */
  authenticate(request: FastifyRequest): Principal {
    const token = tokenOf(request);
    const principal = token === null ? this.sessionPrincipal(request) : this.principalOfToken(token);
    if (principal !== null) return principal;
    return this.refuse(request);
  }

  /** A failed authentication: counted against the client's address, and limited. */
  refuse(request: FastifyRequest): never {
    const wait = this.limiter.retryAfter(request.ip);
    if (wait > 0) throw new TooManyAuthFailuresError(wait);
    this.limiter.recordFailure(request.ip);
    throw new TokenInvalidError();
  }

  requireAdmin(request: FastifyRequest): void {
    if (this.authenticate(request).kind !== 'admin') throw new AdminRequiredError();
  }

  /**
   * The project a request acts on: a project token acts on its own project only; the admin
   * on the project it names in X-Berth-Project (or, for a stream a browser opens, `?project=`).
   */
  requireProject(request: FastifyRequest): string {
    const principal = this.authenticate(request);
    if (principal.kind === 'project') return principal.project;
    // A browser's EventSource cannot send headers: the dashboard names the project in the query.
    const named = request.headers[PROJECT_HEADER] ?? (request.query as Record<string, unknown> | undefined)?.project;
    if (typeof named === 'string' && this.projects.list().includes(named)) return named;
    throw new TokenInvalidError();
  }

  /** The dashboard session a request carries, if any; never a failure. */
  sessionOf(request: FastifyRequest): Principal | null {
    return this.sessionPrincipal(request);
  }

  /**
   * A dashboard session's principal. Its cookie alone is enough to read; a change also needs
   * the dashboard's header, which a page of another site cannot add (with SameSite=Strict,
   * the second of two locks against cross-site requests).
   */
  private sessionPrincipal(request: FastifyRequest): Principal | null {
    const id = request.cookies?.[SESSION_COOKIE];
    if (!this.sessions || typeof id !== 'string' || id.length === 0) return null;
    if (!SAFE_METHODS.has(request.method) && request.headers[UI_HEADER] !== '1') return null;
    return this.sessions.principal(id);
  }
}
