import { randomBytes } from 'node:crypto';
import { SecretStore } from '../../src/secrets/secret-store.js';
import type { Store } from '../../src/store/store.js';

/** A secret store over the test's store with a key held in memory only. */
export function testSecretStore(store: Store): SecretStore {
  return new SecretStore(store.secrets, { current: 'test', keys: new Map([['test', randomBytes(32)]]) });
}
