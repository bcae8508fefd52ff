import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { AcmeChallengeFailedError, type BerthError } from '../../src/domain/errors.js';
import type { CertificateServing } from '../../src/gateway/gateway.js';
import { AcmeCertificates } from '../../src/tls/acme-certificates.js';
import type { CertificateIssuer } from '../../src/tls/acme-issuer.js';
import { CertificateStore } from '../../src/tls/certificate-store.js';
import { waitFor } from '../support/docker-harness.js';

const HOST = 'apps.test';
const MIN = 60_000;
const dir = mkdtempSync(join(tmpdir(), 'berth-certs-unit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A self-signed key and certificate for the host, valid for `days`, as key + chain PEM. */
function pem(host: string, days = 90): string {
  const key = join(dir, 'k.pem');
  const cert = join(dir, 'c.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', String(days), '-subj', `/CN=${host}`, '-addext', `subjectAltName=DNS:${host}`], { stdio: 'ignore' });
  return `${readFileSync(cert, 'utf8')}${readFileSync(key, 'utf8')}`;
}

/** What the gateway would serve, by name. */
class Served implements CertificateServing {
  readonly certificates = new Map<string, string>();
  async serveCertificate(name: string, text: string): Promise<void> {
    this.certificates.set(name, text);
  }
  async withdrawCertificate(name: string): Promise<void> {
    this.certificates.delete(name);
  }
  async putChallenge(): Promise<void> {}
  async removeChallenge(): Promise<void> {}
}

/** Answers each issue() with the next of its outcomes. */
class ScriptedIssuer implements CertificateIssuer {
  readonly source = 'https://acme.test/dir';
  readonly issued: string[] = [];
  constructor(private readonly outcomes: (string | BerthError)[]) {}
  async issue(host: string): Promise<string> {
    this.issued.push(host);
    const next = this.outcomes.shift();
    if (next === undefined) throw new AcmeChallengeFailedError('no more outcomes scripted');
    if (typeof next !== 'string') throw next;
    return next;
  }
}

let manager: AcmeCertificates | null = null;
afterEach(async () => manager?.stop());

function start(issuer: ScriptedIssuer, served: Served, dataDir: string, now = Date.now()): AcmeCertificates {
  manager = new AcmeCertificates({
    store: new CertificateStore(dataDir),
    issuer,
    serving: served,
    publicHost: HOST,
    clock: { now: () => now },
    logger: { info: () => {}, warn: () => {}, error: () => {} },
  });
  return manager;
}

describe('certificates from an ACME server', () => {
  it('obtains a missing one at once, serves it for its host and to every other name, and stores it', async () => {
    const first = pem(HOST);
    const served = new Served();
    const data = mkdtempSync(join(dir, 'data-'));
    const certs = start(new ScriptedIssuer([first]), served, data);
    await certs.restore();
    certs.start();
    await waitFor('the certificate', async () => served.certificates.get(HOST));
    expect(served.certificates.get('_default')).toBe(first);
    expect(readFileSync(join(data, 'certs', `${HOST}.pem`), 'utf8')).toBe(first);
    const [status] = certs.list();
    expect(status).toMatchObject({ host: HOST, issuer: HOST, names: [HOST], failures: 0, lastError: null });
    // Renewed at two thirds of 90 days, not before.
    expect((status?.renewAt ?? 0) - (status?.notBefore ?? 0)).toBe(60 * 24 * 60 * MIN);
  });

  it('keeps serving the previous one when a renewal fails, tells why, and tries again after the backoff', async () => {
    const data = mkdtempSync(join(dir, 'data-'));
    const stored = pem(HOST);
    await new CertificateStore(data).prepare();
    await new CertificateStore(data).saveCertificate(HOST, stored);
    const served = new Served();
    const now = Date.now();
    const issuer = new ScriptedIssuer([new AcmeChallengeFailedError(`${HOST}: connection refused`)]);
    const certs = start(issuer, served, data, now);
    await certs.restore();
    expect(served.certificates.get(HOST)).toBe(stored);
    certs.start();
    await expect(certs.renew(HOST)).rejects.toMatchObject({ code: 'BERTH_ACME_CHALLENGE_FAILED' });
    expect(served.certificates.get(HOST)).toBe(stored);
    expect(certs.list()[0]).toMatchObject({
      failures: 1,
      lastAttemptAt: now,
      nextAttemptAt: now + 5 * MIN,
      lastError: { code: 'BERTH_ACME_CHALLENGE_FAILED', message: `${HOST}: connection refused` },
    });
    expect(issuer.issued).toEqual([HOST]);
    // The record survives a restart.
    await certs.stop();
    const again = start(new ScriptedIssuer([]), new Served(), data, now);
    await again.restore();
    expect(again.list()[0]).toMatchObject({ failures: 1, nextAttemptAt: now + 5 * MIN });
  });

  it('gets a certificate for a service host it is told of, and drops it with its route', async () => {
    const data = mkdtempSync(join(dir, 'data-'));
    const served = new Served();
    const service = `p-web.${HOST}`;
    const certs = start(new ScriptedIssuer([pem(HOST), pem(service)]), served, data);
    await certs.restore();
    certs.start();
    await certs.holdServiceHosts(new Set([service]));
    await waitFor('the service certificate', async () => served.certificates.get(service));
    expect(readdirSync(join(data, 'certs')).sort()).toEqual([`${HOST}.pem`, `${service}.pem`]);
    await certs.holdServiceHosts(new Set());
    expect(served.certificates.has(service)).toBe(false);
    expect(readdirSync(join(data, 'certs'))).toEqual([`${HOST}.pem`]);
    await expect(certs.renew(service)).rejects.toMatchObject({ code: 'BERTH_CERTIFICATE_NOT_FOUND' });
  });
});
