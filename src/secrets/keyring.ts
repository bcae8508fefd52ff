import { randomBytes } from 'node:crypto';
import { SecretsKeyInvalidError } from '../domain/errors.js';
import { readFileIfExists, writeFileAtomic } from '../fs/atomic-file.js';
import { KEY_BYTES } from './cipher.js';

const FORMAT = 'berth-secrets-key/1';

/**
 * The keys secrets are sealed with, each under its id; new values are sealed with `current`.
 * More than one key is held only while `berth server rotate-key` re-seals values from an old
 * key to the current one.
 */
export interface Keyring {
  readonly current: string;
  readonly keys: ReadonlyMap<string, Buffer>;
}

/** The key file, or null when there is none. */
export async function readKeyring(file: string): Promise<Keyring | null> {
  const text = await readFileIfExists(file);
  if (text === null) return null;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new SecretsKeyInvalidError(`The secrets key file ${file} is not JSON; restore it from your backup of the data dir`);
  }
  const { format, current, keys } = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  if (format !== FORMAT || typeof current !== 'string' || typeof keys !== 'object' || keys === null) {
    throw new SecretsKeyInvalidError(`The secrets key file ${file} is not a berth key file (${FORMAT})`);
  }
  const parsed = new Map<string, Buffer>();
  for (const [id, encoded] of Object.entries(keys)) {
    const key = typeof encoded === 'string' ? Buffer.from(encoded, 'base64') : Buffer.alloc(0);
    if (key.length !== KEY_BYTES) throw new SecretsKeyInvalidError(`The secrets key file ${file} holds key '${id}', which is not ${KEY_BYTES} bytes`);
    parsed.set(id, key);
  }
  if (!parsed.has(current)) throw new SecretsKeyInvalidError(`The secrets key file ${file} names '${current}' as its current key but does not hold it`);
  return { current, keys: parsed };
}

/** Written through a temp file, fsync and rename, mode 0600: a crash leaves the old file or the new one. */
export async function writeKeyring(file: string, keyring: Keyring): Promise<void> {
  const keys = Object.fromEntries([...keyring.keys].map(([id, key]) => [id, key.toString('base64')]));
  await writeFileAtomic(file, `${JSON.stringify({ format: FORMAT, current: keyring.current, keys }, null, 2)}\n`, 0o600);
}

/** A new key; its id says when it was made, so an operator can tell keys apart. */
export function newKey(now: Date): { readonly id: string; readonly key: Buffer } {
  const stamp = now.toISOString().slice(0, 10).replace(/-/g, '');
  return { id: `k${stamp}-${randomBytes(3).toString('hex')}`, key: randomBytes(KEY_BYTES) };
}
