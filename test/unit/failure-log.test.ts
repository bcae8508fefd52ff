import { describe, expect, it } from 'vitest';
import { FailureLog } from '../../src/reconciler/failure-log.js';

function recorder() {
  const lines: string[] = [];
  return { lines, logger: { info: (m: string) => lines.push(`info ${m}`), warn: (m: string) => lines.push(`warn ${m}`), error: (m: string) => lines.push(`error ${m}`) } };
}

describe('a failure that repeats on every pass', () => {
  it('is logged once with its details, then once a minute with a count, then once when it stops', () => {
    let now = 0;
    const { lines, logger } = recorder();
    const log = new FailureLog(logger, { now: () => now }, 60_000);
    for (let i = 0; i < 400; i++) {
      log.failed('reconciling a/web', 'table not written', 'Error: table not written\n    at stack');
      now += 250;
    }
    expect(lines).toEqual([
      'error reconciling a/web: Error: table not written\n    at stack',
      expect.stringMatching(/^error reconciling a\/web: failed 240 more times \(241 since 1970-01-01T00:00:00\.000Z\): table not written$/),
    ]);
    log.succeeded('reconciling a/web');
    log.succeeded('reconciling a/web');
    expect(lines[2]).toBe('info reconciling a/web: works again after 400 failures');
    expect(lines).toHaveLength(3);
  });

  it('logs a different failure of the same thing at once', () => {
    const { lines, logger } = recorder();
    const log = new FailureLog(logger, { now: () => 0 });
    log.failed('pass', 'engine down');
    log.failed('pass', 'engine down');
    log.failed('pass', 'disk full');
    log.failed('other', 'engine down');
    expect(lines).toEqual(['error pass: engine down', 'error pass: disk full', 'error other: engine down']);
  });
});
