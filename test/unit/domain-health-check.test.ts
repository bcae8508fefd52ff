import { describe, expect, it } from 'vitest';
import { InvalidHealthCheckError } from '../../src/domain/errors.js';
import { DEFAULT_HEALTH_CHECK, formatStatusCodes, parseHealthCheck, parseStatusCodes, statusMatches } from '../../src/domain/health-check.js';

describe('health checks', () => {
  it('defaults to / with 200-399 every 5 s', () => {
    expect(parseHealthCheck(undefined)).toEqual(DEFAULT_HEALTH_CHECK);
    expect(formatStatusCodes(DEFAULT_HEALTH_CHECK.statusCodes)).toBe('200-399');
  });

  it('parses ranges, lists and mixed forms', () => {
    expect(parseStatusCodes('200-299')).toEqual([{ from: 200, to: 299 }]);
    expect(parseStatusCodes('200,302')).toEqual([{ from: 200, to: 200 }, { from: 302, to: 302 }]);
    expect(parseStatusCodes([200, '300-302'])).toEqual([{ from: 200, to: 200 }, { from: 300, to: 302 }]);
  });

  it('matches statuses against ranges', () => {
    const ranges = parseStatusCodes('200-299,404');
    expect([200, 299, 404].every((s) => statusMatches(ranges, s))).toBe(true);
    expect([199, 300, 500].some((s) => statusMatches(ranges, s))).toBe(false);
  });

  it.each(['', '99', '600', '300-200', '2xx', '200-', [] as number[]])('refuses %j', (codes) => {
    expect(() => parseStatusCodes(codes)).toThrow(InvalidHealthCheckError);
  });

  it('refuses intervals out of range and paths without a leading slash', () => {
    expect(() => parseHealthCheck({ interval: 0.5 })).toThrow(/interval/);
    expect(() => parseHealthCheck({ interval: 301 })).toThrow(/interval/);
    expect(() => parseHealthCheck({ rel_path: 'health' })).toThrow(/rel_path/);
    expect(() => parseHealthCheck({ rel_path: '/he alth' })).toThrow(/rel_path/);
  });
});
