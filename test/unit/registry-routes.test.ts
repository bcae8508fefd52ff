import { generateKeyPairSync } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installErrorHandling } from '../../src/api/error-handler.js';
import { libtrustKeyId } from '../../src/registry/keys.js';
import { REGISTRY_TOKEN_PATH, registryTokenRoutes } from '../../src/registry/routes.js';
import { TokenService, type Principal } from '../../src/registry/token-service.js';

const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const tokens = new TokenService({
  key: { privateKey, kid: libtrustKeyId(publicKey), certFile: '/unused' },
  issuer: 'berth',
  service: 'berth-registry',
});

function authenticate(user: string, password: string): Principal | null {
  return user === 'svc-a' && password === 'pw:with:colons'
    ? { subject: user, allowed: [{ type: 'repository', name: 'exp/web', actions: ['pull', 'push'] }] }
    : null;
}

function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

const valid = { authorization: basic('svc-a', 'pw:with:colons') };

function access(token: string): unknown {
  const claims = token.split('.')[1] ?? '';
  return (JSON.parse(Buffer.from(claims, 'base64url').toString('utf8')) as { access: unknown }).access;
}

describe('GET /registry/token', () => {
  let app: FastifyInstance;
  beforeAll(async () => {
    app = Fastify();
    installErrorHandling(app);
    await app.register(registryTokenRoutes, { authenticate, tokens });
  });
  afterAll(() => app.close());

  it('answers a token with the granted part of every scope asked for', async () => {
    const response = await app.inject({
      url: `${REGISTRY_TOKEN_PATH}?service=berth-registry&account=svc-a`
        + '&scope=repository:exp/web:pull,push&scope=repository:exp/db:pull',
      headers: valid,
    });
    expect(response.statusCode).toBe(200);
    expect(response.headers['cache-control']).toBe('no-store');
    const body = response.json<Record<string, unknown>>();
    expect(body).toEqual({
      token: expect.any(String),
      access_token: body['token'],
      expires_in: 300,
      issued_at: expect.any(String),
    });
    expect(access(body['token'] as string)).toEqual([{ type: 'repository', name: 'exp/web', actions: ['pull', 'push'] }]);
  });

  it('answers a token without access for a login (no scope)', async () => {
    const response = await app.inject({ url: `${REGISTRY_TOKEN_PATH}?service=berth-registry`, headers: valid });
    expect(response.statusCode).toBe(200);
    expect(access(response.json<{ token: string }>().token)).toEqual([]);
  });

  it.each([
    ['no credentials', undefined],
    ['a wrong password', basic('svc-a', 'wrong')],
    ['a bearer token', 'Bearer abc'],
    ['garbage', 'Basic !!!'],
    ['no colon', `Basic ${Buffer.from('svc-a').toString('base64')}`],
  ])('answers 401 with a challenge for %s', async (_case, authorization) => {
    const response = await app.inject({
      url: `${REGISTRY_TOKEN_PATH}?service=berth-registry&scope=repository:exp/web:pull`,
      headers: authorization === undefined ? {} : { authorization },
    });
    expect(response.statusCode).toBe(401);
    expect(response.headers['www-authenticate']).toBe('Basic realm="berth-registry"');
    expect(response.json()).toEqual({ Error: 'Invalid registry credentials', code: 'BERTH_REGISTRY_CREDENTIALS_INVALID' });
  });

  it('answers 400 for another registry service', async () => {
    const response = await app.inject({ url: `${REGISTRY_TOKEN_PATH}?service=docker.io`, headers: valid });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toEqual({
      Error: "Unknown registry service 'docker.io'",
      code: 'BERTH_REGISTRY_UNKNOWN_SERVICE',
    });
  });
});
