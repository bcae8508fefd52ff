import { InvalidSecretError, SecretsKeyInvalidError, SecretsKeyMissingError } from '../domain/errors.js';
import type { SecretRepository, SealedSecret } from '../store/secrets.js';
import { seal, unseal } from './cipher.js';
import type { Keyring } from './keyring.js';

/** The most a secret may hold; a certificate chain fits, a data set does not. */
export const MAX_SECRET_BYTES = 64 * 1024;

/**
 * Secrets at rest: each value sealed with the key file's current key (AES-256-GCM), its key's
 * id beside it, its owner and name authenticated with it. Values exist in plain text only in
 * memory, on their way to a task's environment or to the client that owns them.
 */
export class SecretStore {
  constructor(
    private readonly repository: SecretRepository,
    private readonly keyring: Keyring,
  ) {}

  put(owner: string, name: string, value: string): void {
    if (Buffer.byteLength(value, 'utf8') > MAX_SECRET_BYTES) throw new InvalidSecretError(`Secret '${name}' is longer than ${MAX_SECRET_BYTES} bytes`);
    const key = this.keyring.keys.get(this.keyring.current) as Buffer;
    this.repository.put({ owner, name, keyId: this.keyring.current, sealed: seal(key, value, context(owner, name)) });
  }

  /** The value, or null when there is none; throws when the key file cannot open it. */
  get(owner: string, name: string): string | null {
    const secret = this.repository.get(owner, name);
    return secret === null ? null : this.open(secret);
  }

  /** Every secret of an owner, by name. */
  all(owner: string): Map<string, string> {
    return new Map(this.repository.ofOwner(owner).map((s) => [s.name, this.open(s)]));
  }

  names(owner: string): string[] {
    return this.repository.ofOwner(owner).map((s) => s.name);
  }

  /** The owner's secrets become exactly `values`: those not named go. */
  replaceOwner(owner: string, values: ReadonlyMap<string, string>): void {
    this.repository.deleteOwner(owner);
    for (const [name, value] of values) this.put(owner, name, value);
  }

  private open(secret: SealedSecret): string {
    return openSealed(this.keyring, secret);
  }
}

export function openSealed(keyring: Keyring, secret: SealedSecret): string {
  const key = keyring.keys.get(secret.keyId);
  if (!key) throw new SecretsKeyMissingError(`Secret '${secret.name}' of ${secret.owner} is sealed with key '${secret.keyId}', which the key file does not hold`);
  const value = unseal(key, secret.sealed, context(secret.owner, secret.name));
  if (value === null) throw new SecretsKeyInvalidError(`Secret '${secret.name}' of ${secret.owner} does not open with key '${secret.keyId}' of the key file`);
  return value;
}

export function context(owner: string, name: string): string {
  return `${owner}\n${name}`;
}

/** The owners secrets belong to. */
export const secretOwner = {
  database: (id: number) => `database:${id}`,
  revision: (serviceId: number, revision: number) => `revision:${serviceId}:${revision}`,
  stack: (id: number) => `stack:${id}`,
};
