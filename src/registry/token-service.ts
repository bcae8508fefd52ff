import { randomBytes, sign } from 'node:crypto';
import { systemClock, type Clock } from '../domain/model.js';
import type { SigningKey } from './keys.js';

/** One entry of a token's `access` claim: what may be done to one resource. */
export interface ResourceAccess {
  readonly type: string;
  readonly name: string;
  readonly actions: readonly string[];
}

/** Who asked for a token, and the most they may be granted. */
export interface Principal {
  /** The token's `sub`; the registry logs it, so it is a user name, never a secret. */
  readonly subject: string;
  readonly allowed: readonly ResourceAccess[];
}

export interface IssuedToken {
  readonly token: string;
  readonly expiresIn: number;
  readonly issuedAt: string;
}

export interface TokenServiceOptions {
  readonly key: SigningKey;
  /** The token `iss`; must equal the registry's `auth.token.issuer`. */
  readonly issuer: string;
  /** The token `aud`; must equal the registry's `auth.token.service`. */
  readonly service: string;
  /** Short, because a token cannot be revoked: deleting a service stops pushes within this time. */
  readonly ttlSeconds?: number;
  readonly clock?: Clock;
}

export const DEFAULT_TOKEN_TTL_SECONDS = 300;

/**
 * Parses `scope` query parameters (`repository:<name>:pull,push`). A client
 * may repeat the parameter or put several scopes in one, space-separated.
 * The name sits between the first and the last ':' because it may itself hold
 * one (a registry host with a port). Malformed scopes are dropped: they could
 * only ever be granted nothing.
 */
export function parseScopes(params: readonly string[]): ResourceAccess[] {
  const scopes: ResourceAccess[] = [];
  for (const scope of params.flatMap((param) => param.split(/\s+/))) {
    const first = scope.indexOf(':');
    const last = scope.lastIndexOf(':');
    if (first <= 0 || last <= first + 1) continue;
    const actions = scope
      .slice(last + 1)
      .split(',')
      .filter((action) => action.length > 0);
    if (actions.length === 0) continue;
    scopes.push({ type: scope.slice(0, first), name: scope.slice(first + 1, last), actions });
  }
  return scopes;
}

/**
 * The intersection of what was asked and what is allowed, per resource. Asking
 * for more than allowed is not an error (the token spec says so): the token
 * simply carries less, and the registry refuses what it does not carry.
 */
export function grantAccess(
  requested: readonly ResourceAccess[],
  allowed: readonly ResourceAccess[],
): ResourceAccess[] {
  const granted = new Map<string, { type: string; name: string; actions: Set<string> }>();
  for (const request of requested) {
    const permitted = allowed.find((entry) => entry.type === request.type && entry.name === request.name);
    if (!permitted) continue;
    const actions = request.actions.filter((action) => permitted.actions.includes(action));
    if (actions.length === 0) continue;
    const key = `${request.type}\n${request.name}`;
    const entry = granted.get(key) ?? { type: request.type, name: request.name, actions: new Set<string>() };
    for (const action of actions) entry.actions.add(action);
    granted.set(key, entry);
  }
  return [...granted.values()].map(({ type, name, actions }) => ({ type, name, actions: [...actions] }));
}

/** Signs registry bearer tokens (ES256 JWTs) in the form Distribution 2.8 verifies. */
export class TokenService {
  readonly service: string;
  private readonly ttlSeconds: number;
  private readonly clock: Clock;

  constructor(private readonly options: TokenServiceOptions) {
    this.service = options.service;
    this.ttlSeconds = options.ttlSeconds ?? DEFAULT_TOKEN_TTL_SECONDS;
    this.clock = options.clock ?? systemClock;
  }

  /** A token for `principal` carrying only the part of `requested` it is allowed. */
  issue(principal: Principal, requested: readonly ResourceAccess[]): IssuedToken {
    return this.sign(principal.subject, grantAccess(requested, principal.allowed));
  }

  /** A token for berth's own calls to the registry (deleting manifests, checking tags). */
  mintInternal(access: readonly ResourceAccess[]): string {
    return this.sign(INTERNAL_SUBJECT, access).token;
  }

  private sign(subject: string, access: readonly ResourceAccess[]): IssuedToken {
    const nowMs = this.clock.now();
    const now = Math.floor(nowMs / 1000);
    const header = { typ: 'JWT', alg: 'ES256', kid: this.options.key.kid };
    // Distribution 2.8 reads `aud` as a single string, not the array RFC 7519 also allows.
    const claims = {
      iss: this.options.issuer,
      sub: subject,
      aud: this.service,
      exp: now + this.ttlSeconds,
      nbf: now,
      iat: now,
      jti: randomBytes(16).toString('base64url'),
      access,
    };
    const signingInput = `${base64url(header)}.${base64url(claims)}`;
    // JWS wants the raw r||s pair, not the DER signature Node produces by default.
    const signature = sign('sha256', Buffer.from(signingInput), {
      key: this.options.key.privateKey,
      dsaEncoding: 'ieee-p1363',
    });
    return {
      token: `${signingInput}.${signature.toString('base64url')}`,
      expiresIn: this.ttlSeconds,
      issuedAt: new Date(nowMs).toISOString(),
    };
  }
}

const INTERNAL_SUBJECT = 'berth';

function base64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
}
