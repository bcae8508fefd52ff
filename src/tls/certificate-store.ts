import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { isHostName } from '../domain/certificates.js';
import { InternalError } from '../domain/errors.js';
import { readFileIfExists, syncDirectory, writeFileAtomic } from '../fs/atomic-file.js';

/** What berth keeps of a host's tries beside its certificate, so backoff and the last error survive a restart. */
export interface StoredAttempts {
  readonly failures: number;
  readonly lastAttemptAt: number | null;
  readonly lastError: { readonly code: string; readonly message: string } | null;
  /** An operator asked for a new certificate and has not got one yet. */
  readonly replacing?: boolean;
}

/**
 * The ACME account key and the certificates under `<data-dir>/tls/`: `account.pem`,
 * `certs/<host>.pem` (the private key and its chain in one file, so they are replaced
 * together) and `attempts.json`. Every file is written whole to a temp file, synced and
 * renamed (src/fs/atomic-file.ts): a kill at any moment leaves the previous file or the new
 * one, and a key is only ever written with the certificate issued for it.
 */
export class CertificateStore {
  private readonly certDir: string;

  constructor(private readonly dir: string) {
    this.certDir = join(dir, 'certs');
  }

  /** Makes the dirs, and removes the temp files a kill during a write left. */
  async prepare(): Promise<void> {
    await mkdir(this.certDir, { recursive: true, mode: 0o700 });
    for (const dir of [this.dir, this.certDir]) {
      const leftovers = (await readdir(dir)).filter((name) => name.endsWith('.tmp'));
      await Promise.all(leftovers.map((name) => rm(join(dir, name), { force: true })));
    }
  }

  /** The account key, made by `create` and stored the first time. */
  async accountKey(create: () => Promise<string>): Promise<string> {
    const file = join(this.dir, 'account.pem');
    const stored = await readFileIfExists(file);
    if (stored !== null) return stored;
    const key = await create();
    await writeFileAtomic(file, key, 0o600);
    return key;
  }

  /** Every stored certificate, by host. */
  async certificates(): Promise<Map<string, string>> {
    const found = new Map<string, string>();
    for (const name of await readdir(this.certDir)) {
      const host = name.endsWith('.pem') ? name.slice(0, -4) : '';
      if (isHostName(host)) found.set(host, await readFile(join(this.certDir, name), 'utf8'));
    }
    return found;
  }

  async saveCertificate(host: string, pem: string): Promise<void> {
    await writeFileAtomic(this.certificateFile(host), pem, 0o600);
  }

  async removeCertificate(host: string): Promise<void> {
    await rm(this.certificateFile(host), { force: true });
    await syncDirectory(this.certDir);
  }

  async attempts(): Promise<Record<string, StoredAttempts>> {
    const text = await readFileIfExists(join(this.dir, 'attempts.json'));
    if (text === null) return {};
    try {
      return JSON.parse(text) as Record<string, StoredAttempts>;
    } catch {
      // Written atomically, so only a hand edit gets here: backoff starts afresh.
      return {};
    }
  }

  async saveAttempts(attempts: Record<string, StoredAttempts>): Promise<void> {
    await writeFileAtomic(join(this.dir, 'attempts.json'), `${JSON.stringify(attempts, null, 2)}\n`, 0o600);
  }

  private certificateFile(host: string): string {
    if (!isHostName(host)) throw new InternalError(`'${host.slice(0, 260)}' is not a host name`);
    return join(this.certDir, `${host}.pem`);
  }
}
