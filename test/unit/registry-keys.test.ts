import { createPublicKey, X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { base32, libtrustKeyId, loadOrCreateSigningKey } from '../../src/registry/keys.js';

describe('libtrustKeyId', () => {
  it('matches the example key of the Distribution token spec (docs/spec/auth/jwt.md)', () => {
    const key = createPublicKey({
      key: {
        kty: 'EC',
        crv: 'P-256',
        x: 'm7zUpx3b-zmVE5cymSs64POG9QcyEpJaYCD82-549_Q',
        y: 'dU3biz8sZ_8GPB-odm8Wxz3lNDr1xcAQQPQaOcr1fmc',
      },
      format: 'jwk',
    });
    expect(libtrustKeyId(key)).toBe('PYYO:TEWU:V7JH:26JV:AQTZ:LJC3:SXVJ:XGHA:34F2:2LAQ:ZRMK:Z7Q6');
  });
});

describe('base32', () => {
  it.each([
    ['', ''],
    ['f', 'MY'],
    ['fo', 'MZXQ'],
    ['foo', 'MZXW6'],
    ['foob', 'MZXW6YQ'],
    ['fooba', 'MZXW6YTB'],
    ['foobar', 'MZXW6YTBOI'],
  ])('encodes %j as the RFC 4648 vector without padding', (input, expected) => {
    expect(base32(Buffer.from(input))).toBe(expected);
  });
});

describe('loadOrCreateSigningKey', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-registry-keys-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('creates a P-256 key and a certificate for it, private to the owner', async () => {
    const key = await loadOrCreateSigningKey(join(dir, 'registry'));
    expect(key.privateKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(key.kid).toMatch(/^([A-Z2-7]{4}:){11}[A-Z2-7]{4}$/);
    const cert = new X509Certificate(await readFile(key.certFile));
    expect(libtrustKeyId(cert.publicKey)).toBe(key.kid);
    expect((await stat(join(dir, 'registry', 'token-signing', 'key.pem'))).mode & 0o077).toBe(0);
  });

  it('reuses the key it created before', async () => {
    const first = await loadOrCreateSigningKey(join(dir, 'registry'));
    const second = await loadOrCreateSigningKey(join(dir, 'registry'));
    expect(second.kid).toBe(first.kid);
  });

  it('ends with one key when two starts race', async () => {
    const [a, b] = await Promise.all([
      loadOrCreateSigningKey(join(dir, 'registry')),
      loadOrCreateSigningKey(join(dir, 'registry')),
    ]);
    const again = await loadOrCreateSigningKey(join(dir, 'registry'));
    expect(again.kid).toBe(a.kid);
    expect(b.kid).toBe(a.kid);
  });
});
