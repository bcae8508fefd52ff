/**
 * Rules for the certificates berth obtains from an ACME server: which hosts get one, when a
 * certificate is renewed, and how long to wait after a failure. No I/O: the manager in
 * src/tls/ asks these questions with the time and what it knows.
 */

/** A certificate is renewed once this share of its lifetime has passed (certbot and Caddy renew at two thirds too). */
export const RENEW_AFTER_SHARE_OF_LIFETIME = 2 / 3;

/** The first retry after a failure; each further failure doubles it, up to the cap. */
export const RETRY_FIRST_MS = 5 * 60_000;
/** At most this long between tries: a renewal due weeks before expiry gets many, and a cause fixed meanwhile is noticed within the hour. */
export const RETRY_CAP_MS = 60 * 60_000;

/** The link the gateway serves to a client whose server name has no certificate of its own. */
export const DEFAULT_CERTIFICATE_NAME = '_default';

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** A DNS name berth can get a certificate for and route by: lowercase labels of a-z, 0-9 and inner '-', at least two. */
export function isHostName(text: string): boolean {
  if (text.length === 0 || text.length > 253) return false;
  const labels = text.split('.');
  return labels.length >= 2 && labels.every((label) => LABEL.test(label)) && !/^\d+$/.test(labels[labels.length - 1] as string);
}

/** The host a route's service is served at under --public-domain: "/exp-2-web" → "exp-2-web.apps.example.org". */
export function serviceHost(prefix: string, domain: string): string | null {
  const host = `${prefix.replace(/^\//, '')}.${domain}`;
  return isHostName(host) && !prefix.slice(1).includes('.') ? host : null;
}

/** When a certificate valid from notBefore to notAfter (ms) is due for renewal. */
export function renewalDueAt(notBefore: number, notAfter: number): number {
  return notBefore + Math.max(0, notAfter - notBefore) * RENEW_AFTER_SHARE_OF_LIFETIME;
}

/** The wait after the n-th failure in a row (n ≥ 1): 5 min, 10, 20, 40, then every hour. */
export function retryDelayMs(failures: number): number {
  if (failures < 1) return 0;
  return Math.min(RETRY_CAP_MS, RETRY_FIRST_MS * 2 ** (failures - 1));
}

/** What the manager knows of one host. Times are ms since the epoch. */
export interface HostCertificateState {
  /** The validity of the certificate served now; null while the host has none. */
  readonly validity: { readonly notBefore: number; readonly notAfter: number } | null;
  /** Failed tries since the last success. */
  readonly failures: number;
  readonly lastAttemptAt: number | null;
  /** An operator asked for a new certificate (berth certs renew), and none came since. */
  readonly replacing: boolean;
  /** …and has not been tried since they asked. */
  readonly forced: boolean;
}

/**
 * When to try next for a host: at once when it has no certificate or an operator just asked
 * for a new one, else when the renewal is due; after a failure, not before the backoff has
 * passed (a replacement an operator asked for is tried again with backoff until it succeeds,
 * like a missing certificate: the key may have leaked).
 */
export function nextAttemptAt(state: HostCertificateState): number {
  if (state.forced) return 0;
  const due = state.replacing || state.validity === null ? 0 : renewalDueAt(state.validity.notBefore, state.validity.notAfter);
  if (state.failures === 0 || state.lastAttemptAt === null) return due;
  return Math.max(due, state.lastAttemptAt + retryDelayMs(state.failures));
}

/**
 * The service hosts to hold certificates for, from the gateway's routes: a host is added once
 * its service has a healthy task (its first deployment), so a service created and never
 * deployed costs no issuance, and kept while its route exists.
 */
export function nextServiceHosts(
  current: ReadonlySet<string>,
  routes: readonly { readonly prefix: string; readonly targets: readonly unknown[] }[],
  domain: string,
): Set<string> {
  const next = new Set<string>();
  for (const route of routes) {
    const host = serviceHost(route.prefix, domain);
    if (host !== null && (current.has(host) || route.targets.length > 0)) next.add(host);
  }
  return next;
}

/** How the gateway gets its certificates: none (plain HTTP), from an ACME server, or from the user's files. */
export type TlsMode = 'off' | 'acme' | 'files';

/** One host's certificate as `GET /certs` and `berth certs ls` show it. Times are ms since the epoch. */
export interface CertificateStatus {
  readonly host: string;
  /** The ACME directory URL, or the certificate file the user brought. */
  readonly source: string;
  readonly issuer: string | null;
  readonly names: readonly string[];
  readonly notBefore: number | null;
  readonly notAfter: number | null;
  /** When berth renews it; null for a certificate the user brought. */
  readonly renewAt: number | null;
  readonly renewing: boolean;
  readonly failures: number;
  readonly lastAttemptAt: number | null;
  readonly nextAttemptAt: number | null;
  readonly lastError: { readonly code: string; readonly message: string } | null;
}

/** The gateway's certificates as the API shows them (GET /certs) and renews them (POST /certs/<host>/renew). */
export interface Certificates {
  readonly mode: TlsMode;
  list(): readonly CertificateStatus[];
  /** Replaces the host's certificate now; resolves with its new status once done. */
  renew(host: string): Promise<CertificateStatus>;
}
