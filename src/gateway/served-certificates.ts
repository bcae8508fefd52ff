import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { DEFAULT_CERTIFICATE_NAME, isHostName } from '../domain/certificates.js';
import { GatewayCertificateWriteError } from './errors.js';
import { readLinkIfExists, type WorkerFiles } from './worker-files.js';

/**
 * The certificates nginx's workers load, one handshake at a time (ADR 010): per host a link
 * named after it to a file holding its private key and certificate chain, and `_default` for
 * names without one. berth's module reads a link once per handshake and nginx loads the
 * certificate and the key from the file it names, so a file is never changed once written: a
 * new certificate is a new file (`<host>_<n>.pem`; '_' is in no host name, so no file is
 * mistaken for a link) and the link is renamed over. The file just replaced stays until the
 * next change, for a handshake that read the link a moment before.
 */
export class ServedCertificates {
  constructor(
    private readonly dir: string,
    private readonly files: WorkerFiles,
  ) {}

  /** From the next handshake on, clients asking for `name` get `pem` (a key and its chain). */
  async serve(name: string, pem: string): Promise<void> {
    checkName(name);
    try {
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
      const entries = await readdir(this.dir);
      const current = await readLinkIfExists(join(this.dir, name));
      const versions = entries.filter((entry) => versionOf(name, entry) !== null);
      const file = `${name}_${1 + Math.max(0, ...versions.map((entry) => versionOf(name, entry) as number))}.pem`;
      await this.files.write(join(this.dir, file), pem);
      await this.files.link(file, join(this.dir, name));
      // With what a kill between a write and its rename left of this name's files.
      const stale = [...versions.filter((entry) => entry !== current), ...entries.filter((entry) => entry === `${name}.tmp` || (entry.startsWith(`${name}_`) && entry.endsWith('.pem.tmp')))];
      await Promise.all(stale.map((entry) => rm(join(this.dir, entry), { force: true })));
    } catch (error) {
      throw new GatewayCertificateWriteError(`cannot write the certificate of ${name} under ${this.dir}: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }

  /** Stops serving `name`'s own certificate (its clients get the default one). */
  async withdraw(name: string): Promise<void> {
    checkName(name);
    await rm(join(this.dir, name), { force: true });
    const entries = await readdir(this.dir).catch((error: NodeJS.ErrnoException) => {
      // No dir: nothing was ever served.
      if (error.code === 'ENOENT') return [] as string[];
      throw error;
    });
    await Promise.all(entries.filter((entry) => versionOf(name, entry) !== null).map((entry) => rm(join(this.dir, entry), { force: true })));
  }
}

function versionOf(name: string, entry: string): number | null {
  if (!entry.startsWith(`${name}_`) || !entry.endsWith('.pem')) return null;
  const version = entry.slice(name.length + 1, -4);
  return /^\d+$/.test(version) ? Number(version) : null;
}

function checkName(name: string): void {
  if (name !== DEFAULT_CERTIFICATE_NAME && !isHostName(name)) {
    throw new GatewayCertificateWriteError(`'${name.slice(0, 260)}' is not a host name a certificate can be served for`);
  }
}
