import { DEFAULT_CERTIFICATE_NAME, nextAttemptAt, renewalDueAt, retryDelayMs, type CertificateStatus, type HostCertificateState } from '../domain/certificates.js';
import { BerthError, CertificateNotFoundError, CertificatesNotManagedError, InternalError } from '../domain/errors.js';
import type { Clock } from '../domain/model.js';
import type { CertificateServing } from '../gateway/gateway.js';
import { sleep } from '../process/wait.js';
import type { Logger } from '../reconciler/failure-log.js';
import type { FaultPoints } from '../reconciler/fault-points.js';
import type { CertificateIssuer } from './acme-issuer.js';
import type { CertificateStore, StoredAttempts } from './certificate-store.js';
import { describeChain, splitPem, type CertificateInfo } from './pem.js';
import type { Certificates } from '../domain/certificates.js';

export interface AcmeCertificatesDeps {
  readonly store: CertificateStore;
  readonly issuer: CertificateIssuer;
  readonly serving: CertificateServing;
  /** The host of --public-url: its certificate is also served to names without one of their own. */
  readonly publicHost: string;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Told each failure in words, with the ACME server's reason (a service's host: an event of that service). */
  readonly onFailure?: (host: string, message: string) => void;
  /** `certificate:issued` (the key and certificate only in memory) and `certificate:stored` (on disk, not served yet). */
  readonly faults?: FaultPoints;
}

/** The longest the loop sleeps: a clock that jumps (a suspended machine) is noticed within this. */
const MAX_SLEEP_MS = 60 * 60_000;

interface Host {
  info: CertificateInfo | null;
  attempts: StoredAttempts;
  /** An operator asked for a new certificate and has not got one yet; forced: not tried since. */
  replacing: boolean;
  forced: boolean;
  renewing: boolean;
  /** Callers of renew() waiting for the next attempt, and those waiting for the one under way. */
  waiting: ((outcome: BerthError | null) => void)[];
  answering: ((outcome: BerthError | null) => void)[];
}

const FRESH: StoredAttempts = { failures: 0, lastAttemptAt: null, lastError: null };

/**
 * Keeps a certificate from the ACME server for the public host and for every service host
 * the gateway routes: obtains a missing one, renews each at two thirds of its lifetime, and
 * after a failure keeps serving the previous certificate and tries again with backoff
 * (src/domain/certificates.ts), telling the failure with the server's own reason. Never
 * serves a certificate it did not get from the ACME server. Hosts are worked on one at a time
 * by one loop, which stop() ends.
 */
export class AcmeCertificates implements Certificates {
  readonly mode = 'acme';
  private readonly hosts = new Map<string, Host>();
  private readonly halt = new AbortController();
  private wake: (() => void) | null = null;
  private loop: Promise<void> | null = null;

  constructor(private readonly deps: AcmeCertificatesDeps) {
    this.hosts.set(deps.publicHost, newHost());
  }

  /** Serves the certificates stored under the data dir, before the gateway takes its first handshake. */
  async restore(): Promise<void> {
    await this.deps.store.prepare();
    const attempts = await this.deps.store.attempts();
    for (const [host, pem] of await this.deps.store.certificates()) {
      let info: CertificateInfo;
      try {
        info = describeChain(splitPem(pem).chain);
      } catch (error) {
        // Written atomically, so only a hand edit gets here; a new certificate replaces it.
        this.deps.logger.warn(`certificate for ${host}: the stored file does not read (${(error as Error).message}); getting a new one`);
        continue;
      }
      const entry = this.hosts.get(host) ?? newHost();
      this.hosts.set(host, entry);
      entry.info = info;
      await this.serve(host, pem);
    }
    for (const [host, entry] of this.hosts) {
      entry.attempts = attempts[host] ?? FRESH;
      entry.replacing = entry.attempts.replacing === true;
    }
  }

  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.halt.abort();
    this.wake?.();
    await this.loop;
    const stopping = new CertificatesNotManagedError('the server is stopping; ask again once it runs');
    for (const entry of this.hosts.values()) settle(entry, [...entry.waiting, ...entry.answering], stopping);
  }

  /** The service hosts to hold certificates for now (the public host is always held); others are dropped. */
  async holdServiceHosts(hosts: ReadonlySet<string>): Promise<void> {
    let added = false;
    for (const host of hosts) {
      if (this.hosts.has(host)) continue;
      this.hosts.set(host, newHost());
      added = true;
    }
    for (const [host, entry] of this.hosts) {
      if (host === this.deps.publicHost || hosts.has(host) || entry.renewing) continue;
      this.hosts.delete(host);
      settle(entry, entry.waiting, new CertificateNotFoundError(host));
      await this.deps.serving.withdrawCertificate(host);
      await this.deps.store.removeCertificate(host);
      this.deps.logger.info(`certificate for ${host}: no longer routed; removed`);
    }
    if (added) this.wake?.();
  }

  /** Every host, the public host first. */
  list(): CertificateStatus[] {
    return [...this.hosts.keys()].map((host) => this.status(host));
  }

  /** Replaces a host's certificate now, with a new key (as `certbot renew --force-renewal`); resolves once the attempt ended. */
  async renew(host: string): Promise<CertificateStatus> {
    const entry = this.hosts.get(host);
    if (entry === undefined) throw new CertificateNotFoundError(host);
    const outcome = new Promise<BerthError | null>((resolve) => entry.waiting.push(resolve));
    entry.forced = true;
    entry.replacing = true;
    this.wake?.();
    const error = await outcome;
    if (error !== null) throw error;
    return this.status(host);
  }

  private status(host: string): CertificateStatus {
    const entry = this.hosts.get(host);
    if (entry === undefined) throw new CertificateNotFoundError(host);
    const { info, attempts } = entry;
    return {
      host,
      source: this.deps.issuer.source,
      issuer: info?.issuer ?? null,
      names: info?.names ?? [],
      notBefore: info?.notBefore ?? null,
      notAfter: info?.notAfter ?? null,
      renewAt: info === null ? null : renewalDueAt(info.notBefore, info.notAfter),
      renewing: entry.renewing,
      failures: attempts.failures,
      lastAttemptAt: attempts.lastAttemptAt,
      nextAttemptAt: entry.renewing ? null : Math.max(this.deps.clock.now(), nextAttemptAt(schedule(entry))),
      lastError: attempts.lastError,
    };
  }

  private async run(): Promise<void> {
    while (!this.halt.signal.aborted) {
      const now = this.deps.clock.now();
      const due = [...this.hosts].find(([, entry]) => nextAttemptAt(schedule(entry)) <= now);
      if (due !== undefined) {
        await this.attempt(due[0], due[1]);
        continue;
      }
      const next = Math.min(...[...this.hosts.values()].map((entry) => nextAttemptAt(schedule(entry))));
      const woken = new Promise<void>((resolve) => (this.wake = resolve));
      await Promise.race([sleep(Math.min(MAX_SLEEP_MS, Math.max(1, next - now)), this.halt.signal), woken]);
      this.wake = null;
    }
  }

  private async attempt(host: string, entry: Host): Promise<void> {
    const renewing = entry.info !== null;
    entry.answering = entry.waiting;
    entry.waiting = [];
    entry.forced = false;
    entry.renewing = true;
    let outcome: BerthError | null = null;
    try {
      const pem = await this.deps.issuer.issue(host);
      const info = describeChain(splitPem(pem).chain);
      this.deps.faults?.hit('certificate:issued');
      // Stored first: a kill after this serves it at the next start; before it, nothing changed.
      await this.deps.store.saveCertificate(host, pem);
      this.deps.faults?.hit('certificate:stored');
      await this.serve(host, pem);
      entry.info = info;
      entry.replacing = false;
      entry.attempts = { failures: 0, lastAttemptAt: this.deps.clock.now(), lastError: null };
      this.deps.logger.info(
        `certificate for ${host} ${renewing ? 'renewed' : 'obtained'} from ${this.deps.issuer.source}: ${info.issuer}, valid until ${new Date(info.notAfter).toISOString()}`,
      );
    } catch (error) {
      outcome = error instanceof BerthError ? error : new InternalError(`certificate for ${host}: ${String(error)}`, { cause: error });
      const failures = entry.attempts.failures + 1;
      entry.attempts = { failures, lastAttemptAt: this.deps.clock.now(), lastError: { code: outcome.code, message: outcome.message } };
      const keeps = entry.info === null ? 'no certificate is served for it yet' : `the previous certificate (valid until ${new Date(entry.info.notAfter).toISOString()}) keeps serving`;
      const message = `${renewing ? 'renewing' : 'obtaining'} the certificate for ${host} failed: ${outcome.code}: ${outcome.message}; ${keeps}; next try in ${Math.round(retryDelayMs(failures) / 60_000)} min`;
      this.deps.logger.warn(message);
      this.deps.onFailure?.(host, message);
    } finally {
      entry.renewing = false;
    }
    await this.saveAttempts();
    settle(entry, entry.answering, outcome);
    entry.answering = [];
  }

  private async serve(host: string, pem: string): Promise<void> {
    await this.deps.serving.serveCertificate(host, pem);
    if (host === this.deps.publicHost) await this.deps.serving.serveCertificate(DEFAULT_CERTIFICATE_NAME, pem);
  }

  private async saveAttempts(): Promise<void> {
    try {
      const record = [...this.hosts].map(([host, entry]) => [host, { ...entry.attempts, replacing: entry.replacing }]);
      await this.deps.store.saveAttempts(Object.fromEntries(record));
    } catch (error) {
      this.deps.logger.warn(`certificates: cannot save the record of attempts: ${(error as Error).message}`);
    }
  }
}

function newHost(): Host {
  return { info: null, attempts: FRESH, replacing: false, forced: false, renewing: false, waiting: [], answering: [] };
}

function schedule(entry: Host): HostCertificateState {
  return {
    validity: entry.info === null ? null : { notBefore: entry.info.notBefore, notAfter: entry.info.notAfter },
    failures: entry.attempts.failures,
    lastAttemptAt: entry.attempts.lastAttemptAt,
    replacing: entry.replacing,
    forced: entry.forced,
  };
}

function settle(entry: Host, waiters: readonly ((outcome: BerthError | null) => void)[], outcome: BerthError | null): void {
  for (const resolve of waiters) resolve(outcome);
  if (waiters === entry.waiting) entry.waiting = [];
}
