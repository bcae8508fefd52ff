import { createPrivateKey, X509Certificate } from 'node:crypto';

/** What berth shows of a certificate: the first of a chain, the one a client checks against its name. */
export interface CertificateInfo {
  readonly issuer: string;
  /** The DNS names it is valid for (subjectAltName). */
  readonly names: readonly string[];
  readonly notBefore: number;
  readonly notAfter: number;
  readonly serial: string;
  readonly fingerprint: string;
}

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n[\s\S]*?-----END \1-----\r?\n?/g;

/**
 * A private key and its certificate chain in one PEM text, the form berth stores and the
 * gateway serves (nginx reads the key and the certificates from the same file).
 */
export function combinePem(key: string, chain: string): string {
  return `${chain.trim()}\n${key.trim()}\n`;
}

/** The key and the chain of a combined PEM text; either is '' when missing. */
export function splitPem(text: string): { key: string; chain: string } {
  const blocks = [...text.matchAll(BLOCK)];
  const key = blocks.filter((b) => /PRIVATE KEY$/.test(b[1] as string)).map((b) => b[0].trim());
  const certs = blocks.filter((b) => b[1] === 'CERTIFICATE').map((b) => b[0].trim());
  return { key: key[0] === undefined ? '' : `${key[0]}\n`, chain: certs.length === 0 ? '' : `${certs.join('\n')}\n` };
}

/** Reads the first certificate of a chain; throws when it is none. */
export function describeChain(chain: string): CertificateInfo {
  const cert = new X509Certificate(chain);
  return {
    issuer: commonName(cert.issuer) ?? cert.issuer.replace(/\n/g, ', '),
    names: (cert.subjectAltName ?? '')
      .split(', ')
      .filter((entry) => entry.startsWith('DNS:'))
      .map((entry) => entry.slice(4)),
    notBefore: Date.parse(cert.validFrom),
    notAfter: Date.parse(cert.validTo),
    serial: cert.serialNumber,
    fingerprint: cert.fingerprint256,
  };
}

/** Whether key is the private key of the chain's first certificate. */
export function keyMatches(chain: string, key: string): boolean {
  return new X509Certificate(chain).checkPrivateKey(createPrivateKey(key));
}

function commonName(distinguishedName: string): string | null {
  const line = distinguishedName.split('\n').find((part) => part.startsWith('CN='));
  return line === undefined ? null : line.slice(3);
}
