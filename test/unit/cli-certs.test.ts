import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Certificates, CertificateStatus } from '../../src/domain/certificates.js';
import { AcmeChallengeFailedError } from '../../src/domain/errors.js';
import { ADMIN, apiHarness, createProject, type Harness } from '../support/api-harness.js';
import { runBerth } from '../support/cli-runner.js';

const DAY = 24 * 3600_000;
const valid: CertificateStatus = {
  host: 'apps.example.org',
  source: 'https://acme.example/dir',
  issuer: 'Pebble Intermediate CA',
  names: ['apps.example.org'],
  notBefore: Date.parse('2026-12-01T00:00:00Z'),
  notAfter: Date.parse('2026-12-01T00:00:00Z') + 90 * DAY,
  renewAt: Date.parse('2026-12-01T00:00:00Z') + 60 * DAY,
  renewing: false,
  failures: 0,
  lastAttemptAt: null,
  nextAttemptAt: Date.parse('2026-12-01T00:00:00Z') + 60 * DAY,
  lastError: null,
};
const failing: CertificateStatus = {
  ...valid,
  host: 'exp-web.apps.example.org',
  names: ['exp-web.apps.example.org'],
  failures: 2,
  nextAttemptAt: Date.parse('2026-12-02T11:20:00Z'),
  lastError: { code: 'BERTH_ACME_CHALLENGE_FAILED', message: 'exp-web.apps.example.org: connection refused' },
};

const certificates: Certificates = {
  mode: 'acme',
  list: () => [valid, failing],
  renew: async (host) => {
    if (host === valid.host) return valid;
    throw new AcmeChallengeFailedError(`${host}: connection refused`);
  },
};

let h: Harness;
let url: string;
let project: string;
let configHome: string;

beforeEach(async () => {
  h = await apiHarness({ certificates });
  project = await createProject(h.app, 'exp');
  url = await h.app.listen({ port: 0, host: '127.0.0.1' });
  configHome = mkdtempSync(join(tmpdir(), 'berth-cli-certs-'));
});
afterEach(async () => {
  await h.close();
  rmSync(configHome, { recursive: true, force: true });
});

function berth(argv: string[], token = ADMIN): Promise<{ code: number; out: string; err: string }> {
  return runBerth(argv, { url, token, configHome });
}

describe('berth certs', () => {
  it('ls shows every host with its issuer, expiry, next renewal and last error', async () => {
    const { code, out } = await berth(['certs', 'ls']);
    expect(code).toBe(0);
    const lines = out.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^HOST\s+ISSUER\s+EXPIRES\s+RENEWAL\s+LAST ERROR$/);
    expect(lines[1]).toMatch(/^apps\.example\.org\s+Pebble Intermediate CA\s+2027-03-01 00:00:00\s+2027-01-30 00:00:00$/);
    expect(lines[2]).toMatch(/retry \(2 failed\) 2026-12-02 11:20:00\s+BERTH_ACME_CHALLENGE_FAILED: exp-web\.apps\.example\.org: connection refused$/);
    const json = JSON.parse((await berth(['certs', 'ls', '--json'])).out);
    expect(json.mode).toBe('acme');
    expect(json.certificates.map((c: { host: string }) => c.host)).toEqual([valid.host, failing.host]);
  });

  it('renew prints the new expiry, or fails with the ACME server’s reason', async () => {
    const ok = await berth(['certs', 'renew', valid.host]);
    expect(ok).toMatchObject({ code: 0, out: 'renewed apps.example.org: Pebble Intermediate CA, valid until 2027-03-01 00:00:00, renewed again from 2027-01-30 00:00:00\n' });
    const failed = await berth(['certs', 'renew', failing.host]);
    expect(failed).toMatchObject({ code: 1, err: 'berth: BERTH_ACME_CHALLENGE_FAILED: exp-web.apps.example.org: connection refused\n' });
  });

  it('needs the admin token', async () => {
    expect(await berth(['certs', 'ls'], project)).toMatchObject({ code: 1, err: expect.stringMatching(/^berth: BERTH_ADMIN_REQUIRED: /) });
  });
});
