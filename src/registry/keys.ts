import { execFile } from 'node:child_process';
import { createHash, createPrivateKey, generateKeyPairSync, type KeyObject, X509Certificate } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { syncDirectory } from '../fs/atomic-file.js';
import { RegistryKeyError } from './errors.js';

const execFileAsync = promisify(execFile);

/** The key berth signs registry tokens with, and the certificate the registry trusts it by. */
export interface SigningKey {
  readonly privateKey: KeyObject;
  /** The libtrust fingerprint Distribution looks the key up by (the JWT `kid`). */
  readonly kid: string;
  /** PEM certificate of the public key: the registry's `auth.token.rootcertbundle`. */
  readonly certFile: string;
}

const KEY_DIR = 'token-signing';
const TEMP_PREFIX = '.token-signing-';
const KEY_FILE = 'key.pem';
const CERT_FILE = 'cert.pem';
const OPENSSL_TIMEOUT_MS = 30_000;
/** Distribution ignores the validity of a key it finds by `kid`; a long one avoids surprises should that change. */
const CERT_DAYS = 3650;

/**
 * Loads the token signing key under `registryDir`, creating it at first start.
 * Key and certificate are made in a temp directory that is renamed into place,
 * so the pair is either complete or absent after a crash.
 */
export async function loadOrCreateSigningKey(registryDir: string): Promise<SigningKey> {
  const dir = join(registryDir, KEY_DIR);
  const existing = await loadSigningKey(dir);
  if (existing) return existing;

  await mkdir(registryDir, { recursive: true, mode: 0o700 });
  const tmp = await mkdtemp(join(registryDir, TEMP_PREFIX));
  try {
    await createKeyPair(tmp);
    await rename(tmp, dir);
    await syncDirectory(registryDir);
  } catch (error) {
    await rm(tmp, { recursive: true, force: true });
    const code = (error as NodeJS.ErrnoException).code;
    // Another process made the pair first; theirs is as good as ours.
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST') {
      throw new RegistryKeyError(`Cannot create the registry token signing key in ${registryDir}`, { cause: error });
    }
  }
  const created = await loadSigningKey(dir);
  if (!created) throw new RegistryKeyError(`Registry token signing key missing from ${dir} after creating it`);
  return created;
}

/**
 * libtrust's key ID, which Distribution 2.8 matches a token's `kid` against:
 * SHA-256 of the DER SubjectPublicKeyInfo, truncated to 240 bits, base32 in
 * twelve groups of four joined by ':'.
 */
export function libtrustKeyId(publicKey: KeyObject): string {
  const der = publicKey.export({ type: 'spki', format: 'der' });
  const digest = createHash('sha256').update(der).digest().subarray(0, 30);
  const encoded = base32(digest);
  return encoded.match(/.{4}/g)?.join(':') ?? '';
}

const BASE32_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** RFC 4648 base32 without padding; 30 bytes encode to exactly 48 characters. */
export function base32(bytes: Uint8Array): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += BASE32_ALPHABET[(buffer >>> bits) & 31];
    }
    buffer &= (1 << bits) - 1;
  }
  if (bits > 0) out += BASE32_ALPHABET[(buffer << (5 - bits)) & 31];
  return out;
}

async function loadSigningKey(dir: string): Promise<SigningKey | null> {
  const keyFile = join(dir, KEY_FILE);
  const certFile = join(dir, CERT_FILE);
  let keyPem: string;
  let certPem: string;
  try {
    [keyPem, certPem] = await Promise.all([readFile(keyFile, 'utf8'), readFile(certFile, 'utf8')]);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new RegistryKeyError(`Cannot read the registry token signing key in ${dir}`, { cause: error });
  }
  try {
    const privateKey = createPrivateKey(keyPem);
    const cert = new X509Certificate(certPem);
    if (!cert.checkPrivateKey(privateKey)) {
      throw new Error('the certificate does not belong to the key');
    }
    return { privateKey, kid: libtrustKeyId(cert.publicKey), certFile };
  } catch (error) {
    throw new RegistryKeyError(`Invalid registry token signing key in ${dir}`, { cause: error });
  }
}

async function createKeyPair(dir: string): Promise<void> {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const keyFile = join(dir, KEY_FILE);
  await writeFile(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
  // Node can parse certificates but not make them; openssl self-signs one for the key.
  await execFileAsync(
    'openssl',
    [
      ['req', '-x509', '-new', '-sha256', '-key', keyFile],
      ['-subj', '/CN=berth registry token signer', '-days', String(CERT_DAYS), '-out', join(dir, CERT_FILE)],
    ].flat(),
    { timeout: OPENSSL_TIMEOUT_MS },
  );
  await syncDirectory(dir);
}
