import type { FastifyPluginAsync } from 'fastify';
import { printable } from '../domain/names.js';
import { RegistryCredentialsInvalidError, RegistryUnknownServiceError } from './errors.js';
import { parseScopes, type Principal, type TokenService } from './token-service.js';

/** The token endpoint's path below the API base URL; the registry's `auth.token.realm` points here. */
export const REGISTRY_TOKEN_PATH = '/registry/token';

/** Checks Basic credentials; null when they are unknown, wrong, expired or revoked. */
export type RegistryAuthenticator = (user: string, password: string) => Principal | null;

export interface RegistryTokenRoutesOptions {
  readonly authenticate: RegistryAuthenticator;
  readonly tokens: TokenService;
}

interface TokenQuery {
  service?: string;
  scope?: string | string[];
  account?: string;
}

const tokenQuerySchema = {
  type: 'object',
  properties: {
    service: { type: 'string' },
    // One `scope` parameter arrives as a string, several as an array (the API does not coerce types).
    scope: { anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] },
    account: { type: 'string' },
  },
} as const;

/**
 * `GET /registry/token`, the Docker registry token endpoint: Basic credentials
 * in, a bearer token for the registry out. The route needs no berth API
 * token; the Basic credentials are its authentication. Failures throw
 * BerthErrors for the API's error handler, after setting the challenge header.
 */
export const registryTokenRoutes: FastifyPluginAsync<RegistryTokenRoutesOptions> = async (app, options) => {
  const schema = { querystring: tokenQuerySchema };
  app.get<{ Querystring: TokenQuery }>(REGISTRY_TOKEN_PATH, { schema }, async (request, reply) => {
    const { service, scope } = request.query;
    if (service !== undefined && service !== options.tokens.service) {
      throw new RegistryUnknownServiceError(printable(service));
    }
    const credentials = parseBasicAuth(request.headers.authorization);
    const principal = credentials ? options.authenticate(credentials.user, credentials.password) : null;
    if (!principal) {
      reply.header('WWW-Authenticate', `Basic realm="${options.tokens.service}"`);
      throw new RegistryCredentialsInvalidError();
    }
    const scopes = scope === undefined ? [] : Array.isArray(scope) ? scope : [scope];
    const issued = options.tokens.issue(principal, parseScopes(scopes));
    reply.header('Cache-Control', 'no-store');
    return {
      token: issued.token,
      // OAuth2 clients read `access_token`, Docker's own clients `token`; both get the same.
      access_token: issued.token,
      expires_in: issued.expiresIn,
      issued_at: issued.issuedAt,
    };
  });
};

function parseBasicAuth(header: string | undefined): { user: string; password: string } | null {
  const match = header === undefined ? null : /^Basic\s+([A-Za-z0-9+/]+={0,2})\s*$/i.exec(header);
  if (!match?.[1]) return null;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return null;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}
