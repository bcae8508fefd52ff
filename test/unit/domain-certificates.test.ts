import { describe, expect, it } from 'vitest';
import { isHostName, nextAttemptAt, nextServiceHosts, renewalDueAt, retryDelayMs, serviceHost } from '../../src/domain/certificates.js';

const DAY = 24 * 60 * 60_000;
const MIN = 60_000;

describe('certificate renewal', () => {
  it('is due once two thirds of the lifetime have passed', () => {
    expect(renewalDueAt(0, 90 * DAY)).toBe(60 * DAY);
    expect(renewalDueAt(1_000, 1_000 + 6 * DAY)).toBe(1_000 + 4 * DAY);
    expect(renewalDueAt(5, 5)).toBe(5);
  });

  it('is tried at once for a host without a certificate, else when due', () => {
    const fresh = { failures: 0, lastAttemptAt: null, replacing: false, forced: false };
    expect(nextAttemptAt({ ...fresh, validity: null })).toBe(0);
    expect(nextAttemptAt({ ...fresh, validity: { notBefore: 0, notAfter: 90 * DAY } })).toBe(60 * DAY);
  });

  it('waits 5 min after a failure, doubling up to an hour', () => {
    expect([1, 2, 3, 4, 5, 6, 20].map((n) => retryDelayMs(n) / MIN)).toEqual([5, 10, 20, 40, 60, 60, 60]);
    const failed = { validity: null, failures: 2, lastAttemptAt: 100 * MIN, replacing: false, forced: false };
    expect(nextAttemptAt(failed)).toBe(110 * MIN);
  });

  it('never retries a failed renewal before the renewal is due, nor after the backoff when it is overdue', () => {
    const validity = { notBefore: 0, notAfter: 90 * DAY };
    expect(nextAttemptAt({ validity, failures: 1, lastAttemptAt: 61 * DAY, replacing: false, forced: false })).toBe(61 * DAY + 5 * MIN);
    expect(nextAttemptAt({ validity, failures: 1, lastAttemptAt: 10 * DAY, replacing: false, forced: false })).toBe(60 * DAY);
  });

  it('is tried at once when an operator asks, whatever the backoff, and again with backoff until a new one came', () => {
    const validity = { notBefore: 0, notAfter: 90 * DAY };
    expect(nextAttemptAt({ validity, failures: 3, lastAttemptAt: 10 * DAY, replacing: true, forced: true })).toBe(0);
    expect(nextAttemptAt({ validity, failures: 1, lastAttemptAt: 10 * DAY, replacing: true, forced: false })).toBe(10 * DAY + 5 * MIN);
  });
});

describe('service hosts', () => {
  it('are the route prefix under the public domain', () => {
    expect(serviceHost('/exp-2-web', 'apps.example.org')).toBe('exp-2-web.apps.example.org');
    expect(serviceHost('/a.b', 'apps.example.org')).toBeNull();
    expect(serviceHost('/-x', 'apps.example.org')).toBeNull();
  });

  it('get a certificate once their service first has a healthy task, and keep it while routed', () => {
    const domain = 'apps.test';
    const target = { host: '10.0.0.1', port: 80 };
    let held = nextServiceHosts(new Set(), [{ prefix: '/p-new', targets: [] }, { prefix: '/p-web', targets: [target] }], domain);
    expect([...held]).toEqual(['p-web.apps.test']);
    // Its tasks went away (a crash, a deployment): still routed, still held.
    held = nextServiceHosts(held, [{ prefix: '/p-new', targets: [] }, { prefix: '/p-web', targets: [] }], domain);
    expect([...held]).toEqual(['p-web.apps.test']);
    // Deleted: no route, no certificate.
    expect([...nextServiceHosts(held, [{ prefix: '/p-new', targets: [] }], domain)]).toEqual([]);
  });

  it('are DNS names of lowercase labels', () => {
    for (const good of ['apps.example.org', 'a-b.c', 'x1.y2.z3']) expect(isHostName(good), good).toBe(true);
    for (const bad of ['localhost', 'A.example.org', '-a.example.org', 'a..b', 'a.b.', '127.0.0.1', 'a_b.c', `${'a'.repeat(64)}.org`, '']) {
      expect(isHostName(bad), bad).toBe(false);
    }
  });
});
