import { generateKeyPairSync, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { libtrustKeyId, type SigningKey } from '../../src/registry/keys.js';
import { grantAccess, parseScopes, TokenService, type ResourceAccess } from '../../src/registry/token-service.js';

describe('parseScopes', () => {
  it('parses repeated parameters and space-separated scopes', () => {
    expect(parseScopes(['repository:exp/web:pull,push', 'repository:exp/db:pull registry:catalog:*'])).toEqual([
      { type: 'repository', name: 'exp/web', actions: ['pull', 'push'] },
      { type: 'repository', name: 'exp/db', actions: ['pull'] },
      { type: 'registry', name: 'catalog', actions: ['*'] },
    ]);
  });

  it('keeps a name that holds a host with a port', () => {
    expect(parseScopes(['repository:127.0.0.1:5000/exp/web:pull'])).toEqual([
      { type: 'repository', name: '127.0.0.1:5000/exp/web', actions: ['pull'] },
    ]);
  });

  it('drops malformed scopes', () => {
    const malformed = ['', 'repository', 'repository:exp/web', 'repository::pull', ':exp/web:pull', 'repository:exp/web:'];
    expect(parseScopes(malformed)).toEqual([]);
  });
});

describe('grantAccess', () => {
  const allowed: ResourceAccess[] = [{ type: 'repository', name: 'exp/web', actions: ['pull', 'push'] }];

  it('grants what was asked and is allowed', () => {
    expect(grantAccess(parseScopes(['repository:exp/web:pull,push']), allowed)).toEqual(allowed);
  });

  it('grants only the allowed part of what was asked', () => {
    expect(grantAccess(parseScopes(['repository:exp/web:pull,delete,*']), allowed)).toEqual([
      { type: 'repository', name: 'exp/web', actions: ['pull'] },
    ]);
  });

  it('grants nothing on another repository, another type, or a prefix of the name', () => {
    const requested = parseScopes([
      'repository:exp/db:pull,push',
      'repository:other/web:pull',
      'repository:exp/web/x:pull',
      'repository:exp:pull',
      'registry:catalog:*',
      'repository(plugin):exp/web:pull',
    ]);
    expect(grantAccess(requested, allowed)).toEqual([]);
  });

  it('merges repeated requests for one repository', () => {
    expect(grantAccess(parseScopes(['repository:exp/web:pull', 'repository:exp/web:push,pull']), allowed)).toEqual([
      { type: 'repository', name: 'exp/web', actions: ['pull', 'push'] },
    ]);
  });
});

describe('TokenService', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const key: SigningKey = { privateKey, kid: libtrustKeyId(publicKey), certFile: '/unused' };
  const now = Date.UTC(2030, 0, 1, 12, 0, 0);
  const clock = { now: () => now };
  const tokens = new TokenService({ key, issuer: 'berth', service: 'berth-registry', ttlSeconds: 300, clock });

  function decode(token: string): { header: Record<string, unknown>; claims: Record<string, unknown>; valid: boolean } {
    const [header, claims, signature] = token.split('.') as [string, string, string];
    const valid = verify(
      'sha256',
      Buffer.from(`${header}.${claims}`),
      { key: publicKey, dsaEncoding: 'ieee-p1363' },
      Buffer.from(signature, 'base64url'),
    );
    const parse = (part: string): Record<string, unknown> =>
      JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;
    return { header: parse(header), claims: parse(claims), valid };
  }

  it('signs an ES256 JWT with the libtrust kid and the claims Distribution checks', () => {
    const issued = tokens.issue(
      { subject: 'svc-1', allowed: [{ type: 'repository', name: 'exp/web', actions: ['pull', 'push'] }] },
      parseScopes(['repository:exp/web:push,pull', 'repository:exp/db:pull']),
    );
    const { header, claims, valid } = decode(issued.token);
    expect(valid).toBe(true);
    expect(header).toEqual({ typ: 'JWT', alg: 'ES256', kid: key.kid });
    expect(claims).toMatchObject({
      iss: 'berth',
      sub: 'svc-1',
      aud: 'berth-registry',
      iat: now / 1000,
      nbf: now / 1000,
      exp: now / 1000 + 300,
      access: [{ type: 'repository', name: 'exp/web', actions: ['push', 'pull'] }],
    });
    expect(claims['jti']).toEqual(expect.any(String));
    expect(issued.expiresIn).toBe(300);
    expect(issued.issuedAt).toBe('2030-01-01T12:00:00.000Z');
  });

  it('issues a valid token with empty access when nothing asked is allowed', () => {
    const issued = tokens.issue({ subject: 'svc-1', allowed: [] }, parseScopes(['repository:exp/web:pull']));
    expect(decode(issued.token).claims['access']).toEqual([]);
  });

  it('mints internal tokens with exactly the access given', () => {
    const access = [{ type: 'repository', name: 'exp/web', actions: ['pull', 'delete'] }];
    const { claims, valid } = decode(tokens.mintInternal(access));
    expect(valid).toBe(true);
    expect(claims['access']).toEqual(access);
    expect(claims['sub']).toBe('berth');
  });
});
