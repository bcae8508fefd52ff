import { readFile } from 'node:fs/promises';
import { DEFAULT_CERTIFICATE_NAME, type Certificates, type CertificateStatus } from '../domain/certificates.js';
import { CertificatesNotManagedError, ConfigError } from '../domain/errors.js';
import type { CertificateServing } from '../gateway/gateway.js';
import { combinePem, describeChain, keyMatches, splitPem, type CertificateInfo } from './pem.js';

/**
 * A certificate the user brings (--tls files): checked once at start, served to every name
 * (a wildcard covers the service hosts of --public-domain), never renewed by berth.
 */
export class UserCertificate implements Certificates {
  readonly mode = 'files';

  private constructor(
    private readonly certFile: string,
    private readonly pem: string,
    private readonly info: CertificateInfo,
  ) {}

  /**
   * Reads and checks the files. A certificate that does not read, a key that is not its
   * certificate's, or a certificate that has expired (or is not valid yet) is refused with a
   * ConfigError: the gateway would otherwise fail every handshake, or serve what browsers refuse.
   */
  static async load(certFile: string, keyFile: string, now: number): Promise<UserCertificate> {
    const { chain } = splitPem(await readText(certFile, '--tls-cert'));
    const { key } = splitPem(await readText(keyFile, '--tls-key'));
    if (chain === '') throw new ConfigError(`--tls-cert ${certFile} holds no PEM certificate`);
    if (key === '') throw new ConfigError(`--tls-key ${keyFile} holds no PEM private key`);
    let info: CertificateInfo;
    let matches: boolean;
    try {
      info = describeChain(chain);
      matches = keyMatches(chain, key);
    } catch (error) {
      throw new ConfigError(`--tls-cert ${certFile} and --tls-key ${keyFile} do not read as a certificate and a private key: ${(error as Error).message}`, {
        cause: error,
      });
    }
    if (!matches) throw new ConfigError(`--tls-key ${keyFile} is not the private key of the certificate in --tls-cert ${certFile}`);
    if (info.notAfter <= now) throw new ConfigError(`the certificate in --tls-cert ${certFile} expired on ${new Date(info.notAfter).toISOString()}`);
    if (info.notBefore > now) throw new ConfigError(`the certificate in --tls-cert ${certFile} is not valid before ${new Date(info.notBefore).toISOString()}`);
    return new UserCertificate(certFile, combinePem(key, chain), info);
  }

  /** Whether the certificate is valid for host (a wildcard counts). */
  covers(host: string): boolean {
    return this.info.names.some((name) => name === host || (name.startsWith('*.') && host.endsWith(name.slice(1)) && !host.slice(0, -name.length + 1).includes('.')));
  }

  serveOn(serving: CertificateServing): Promise<void> {
    return serving.serveCertificate(DEFAULT_CERTIFICATE_NAME, this.pem);
  }

  list(): CertificateStatus[] {
    return [
      {
        host: this.info.names[0] ?? DEFAULT_CERTIFICATE_NAME,
        source: this.certFile,
        issuer: this.info.issuer,
        names: this.info.names,
        notBefore: this.info.notBefore,
        notAfter: this.info.notAfter,
        renewAt: null,
        renewing: false,
        failures: 0,
        lastAttemptAt: null,
        nextAttemptAt: null,
        lastError: null,
      },
    ];
  }

  renew(): Promise<CertificateStatus> {
    return Promise.reject(new CertificatesNotManagedError(`the certificate is the user's (--tls files ${this.certFile}); replace the files and restart the server`));
  }
}

async function readText(file: string, flag: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    throw new ConfigError(`${flag} ${file}: ${(error as Error).message}`, { cause: error });
  }
}
