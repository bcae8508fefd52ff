import { join } from 'node:path';
import { SecretsKeyInvalidError, SecretsKeyMissingError } from '../domain/errors.js';
import type { SecretRepository } from '../store/secrets.js';
import { newKey, readKeyring, writeKeyring, type Keyring } from './keyring.js';
import { openSealed } from './secret-store.js';

export const KEY_FILE = 'secrets.key';

export function keyFileOf(dataDir: string): string {
  return join(dataDir, KEY_FILE);
}

/**
 * The data dir's key file, checked against the secrets the store holds before anything uses
 * it: every key a secret is sealed with must be in it and open one of those secrets. A missing
 * or wrong key file stops the start with an error that says what to do; berth never hands a
 * task an empty value instead. Without any secret and without a file, a key is made.
 */
export async function openKeyring(dataDir: string, secrets: SecretRepository, now: Date): Promise<Keyring> {
  const file = keyFileOf(dataDir);
  const keyring = await readKeyring(file);
  const used = secrets.countsByKey();
  if (keyring === null) {
    if (used.size > 0) {
      const total = [...used.values()].reduce((a, b) => a + b, 0);
      throw new SecretsKeyMissingError(
        `The secrets key file ${file} is missing, but the store holds ${total} secret(s) sealed with key(s) ${[...used.keys()].join(', ')}. Restore the file from your backup of the data dir; berth does not start without it`,
      );
    }
    const { id, key } = newKey(now);
    const made: Keyring = { current: id, keys: new Map([[id, key]]) };
    await writeKeyring(file, made);
    return made;
  }
  checkKeyring(file, keyring, secrets);
  return keyring;
}

/** Every key the store's secrets use is in the keyring, and opens a secret sealed with it. */
export function checkKeyring(file: string, keyring: Keyring, secrets: SecretRepository): void {
  for (const [keyId, count] of secrets.countsByKey()) {
    if (!keyring.keys.has(keyId)) {
      throw new SecretsKeyInvalidError(
        `The secrets key file ${file} has no key '${keyId}', which ${count} secret(s) are sealed with: it is not this data dir's key file, or an older copy. Restore the right file`,
      );
    }
    const sample = secrets.sampleOf(keyId);
    if (sample === null) continue;
    try {
      openSealed(keyring, sample);
    } catch {
      throw new SecretsKeyInvalidError(`Key '${keyId}' of the secrets key file ${file} does not open the secrets sealed with it: the file was altered or belongs to another data dir. Restore the right file`);
    }
  }
}
