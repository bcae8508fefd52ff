import { join } from 'node:path';
import type { FaultPoints } from '../reconciler/fault-points.js';
import type { SecretRepository } from '../store/secrets.js';
import { seal } from './cipher.js';
import { newKey, readKeyring, writeKeyring, type Keyring } from './keyring.js';
import { checkKeyring, keyFileOf, openKeyring } from './open-secrets.js';
import { context, openSealed } from './secret-store.js';

export interface Rotation {
  readonly keyId: string;
  /** Secrets re-sealed by this run. */
  readonly resealed: number;
  /** True when it finished a rotation an earlier run had begun. */
  readonly resumed: boolean;
}

const BATCH = 100;

/**
 * Re-seals every secret under a new key, safe against `kill -9` between any two steps:
 *   1. the new key is added to the key file as current, the old one kept (atomic write);
 *   2. each secret sealed with another key is re-sealed with the current one (one row at a time);
 *   3. once none is left, the old keys leave the file (atomic write).
 * A run that finds more than one key in the file finishes the rotation begun before instead of
 * starting another, so running the command again after a kill always ends in one key.
 */
export async function rotateKey(dataDir: string, secrets: SecretRepository, faults: FaultPoints, now: Date): Promise<Rotation> {
  const file = keyFileOf(dataDir);
  let keyring = (await readKeyring(file)) ?? (await openKeyring(dataDir, secrets, now));
  checkKeyring(file, keyring, secrets);
  const resumed = keyring.keys.size > 1;
  if (!resumed) {
    const fresh = newKey(now);
    keyring = { current: fresh.id, keys: new Map([...keyring.keys, [fresh.id, fresh.key]]) };
    await writeKeyring(file, keyring);
    faults.hit('rotate:key-added');
  }
  const resealed = resealAll(keyring, secrets, faults);
  const key = keyring.keys.get(keyring.current) as Buffer;
  const done: Keyring = { current: keyring.current, keys: new Map([[keyring.current, key]]) };
  await writeKeyring(file, done);
  return { keyId: keyring.current, resealed, resumed };
}

function resealAll(keyring: Keyring, secrets: SecretRepository, faults: FaultPoints): number {
  const key = keyring.keys.get(keyring.current) as Buffer;
  let count = 0;
  for (;;) {
    const batch = secrets.notSealedWith(keyring.current, BATCH);
    if (batch.length === 0) return count;
    for (const secret of batch) {
      const value = openSealed(keyring, secret);
      if (secrets.reseal(secret, keyring.current, seal(key, value, context(secret.owner, secret.name)))) count++;
      faults.hit('rotate:resealed');
    }
  }
}

/** Where the store is, for the command that runs without a server. */
export function storeFileOf(dataDir: string): string {
  return join(dataDir, 'berth.db');
}
