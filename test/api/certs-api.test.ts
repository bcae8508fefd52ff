import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Certificates, CertificateStatus } from '../../src/domain/certificates.js';
import { AcmeChallengeFailedError, CertificateNotFoundError } from '../../src/domain/errors.js';
import { ADMIN, apiHarness, createProject, type Harness } from '../support/api-harness.js';

const STATUS: CertificateStatus = {
  host: 'apps.example.org',
  source: 'https://acme.example/dir',
  issuer: 'Pebble Intermediate CA',
  names: ['apps.example.org'],
  notBefore: Date.parse('2026-12-01T00:00:00Z'),
  notAfter: Date.parse('2027-03-01T00:00:00Z'),
  renewAt: Date.parse('2027-01-30T00:00:00Z'),
  renewing: false,
  failures: 1,
  lastAttemptAt: Date.parse('2026-12-02T10:00:00Z'),
  nextAttemptAt: Date.parse('2027-01-30T00:00:00Z'),
  lastError: { code: 'BERTH_ACME_CHALLENGE_FAILED', message: 'apps.example.org: connection refused' },
};

/** Renews apps.example.org, refuses to renew failing.example.org with the ACME server's reason. */
const certificates: Certificates = {
  mode: 'acme',
  list: () => [STATUS],
  renew: async (host) => {
    if (host === STATUS.host) return { ...STATUS, failures: 0, lastError: null };
    if (host === 'failing.example.org') throw new AcmeChallengeFailedError('failing.example.org: 127.0.0.2: connection refused');
    throw new CertificateNotFoundError(host);
  },
};

let h: Harness;
let project: string;

beforeEach(async () => {
  h = await apiHarness({ certificates });
  project = await createProject(h.app, 'exp');
});
afterEach(async () => h.close());

const call = (method: 'GET' | 'POST', url: string, token: string) => h.app.inject({ method, url, headers: { 'x-auth-token': token } });

describe('GET /certs', () => {
  it('lists every host with issuer, expiry, renewal and last error, for the admin', async () => {
    const res = await call('GET', '/certs', ADMIN);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      mode: 'acme',
      certificates: [
        {
          host: 'apps.example.org',
          source: 'https://acme.example/dir',
          issuer: 'Pebble Intermediate CA',
          names: ['apps.example.org'],
          not_before: '2026-12-01T00:00:00.000Z',
          expires_at: '2027-03-01T00:00:00.000Z',
          renew_at: '2027-01-30T00:00:00.000Z',
          renewing: false,
          failures: 1,
          last_attempt_at: '2026-12-02T10:00:00.000Z',
          next_attempt_at: '2027-01-30T00:00:00.000Z',
          last_error: { code: 'BERTH_ACME_CHALLENGE_FAILED', message: 'apps.example.org: connection refused' },
        },
      ],
    });
  });

  it('is refused to a project token (403) and to no token', async () => {
    expect((await call('GET', '/certs', project)).statusCode).toBe(403);
    expect((await call('GET', '/certs', project)).json().code).toBe('BERTH_ADMIN_REQUIRED');
    expect((await call('GET', '/certs', 'wrong')).statusCode).toBe(403);
    expect((await call('POST', '/certs/apps.example.org/renew', project)).statusCode).toBe(403);
  });
});

describe('POST /certs/<host>/renew', () => {
  it('answers the renewed certificate, and records who asked', async () => {
    const res = await call('POST', '/certs/APPS.example.org/renew', ADMIN);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ host: 'apps.example.org', failures: 0, last_error: null });
    expect((await call('GET', '/audit', ADMIN)).json().entries[0]).toMatchObject({ action: 'certificate.renew', target: 'apps.example.org' });
  });

  it("answers the ACME server's reason when it fails, and 404 for a host it holds no certificate for", async () => {
    const failed = await call('POST', '/certs/failing.example.org/renew', ADMIN);
    expect(failed.statusCode).toBe(502);
    expect(failed.json()).toEqual({ Error: 'failing.example.org: 127.0.0.2: connection refused', code: 'BERTH_ACME_CHALLENGE_FAILED' });
    const unknown = await call('POST', '/certs/nope.example.org/renew', ADMIN);
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().code).toBe('BERTH_CERTIFICATE_NOT_FOUND');
  });
});
