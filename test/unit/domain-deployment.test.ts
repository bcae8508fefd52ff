import { describe, expect, it } from 'vitest';
import { restartDelayMs } from '../../src/domain/backoff.js';
import { assertTransition, canRollBack, DEPLOYMENT_STEPS, IllegalTransitionError, isTerminal } from '../../src/domain/deployment.js';
import { checkPlacement } from '../../src/domain/placement.js';

describe('the deployment state machine', () => {
  it('walks the happy path one step at a time', () => {
    const path = ['pending', 'starting', 'health-wait', 'switching', 'draining', 'stopping', 'succeeded'] as const;
    for (let i = 1; i < path.length; i++) expect(() => assertTransition(path[i - 1]!, path[i]!)).not.toThrow();
  });

  it('refuses to skip steps or leave a terminal step', () => {
    expect(() => assertTransition('pending', 'switching')).toThrow(IllegalTransitionError);
    expect(() => assertTransition('succeeded', 'pending')).toThrow(IllegalTransitionError);
    expect(() => assertTransition('failed', 'rolling-back')).toThrow(IllegalTransitionError);
  });

  it('can roll back only before traffic switched', () => {
    expect(['pending', 'starting', 'health-wait'].every((s) => canRollBack(s as never))).toBe(true);
    expect(['switching', 'draining', 'stopping', 'rolling-back'].some((s) => canRollBack(s as never))).toBe(false);
  });

  it('ends rollbacks in failed, cancelled or superseded', () => {
    for (const end of ['failed', 'cancelled', 'superseded'] as const) expect(() => assertTransition('rolling-back', end)).not.toThrow();
    expect(DEPLOYMENT_STEPS.filter(isTerminal)).toEqual(['succeeded', 'failed', 'cancelled', 'superseded']);
  });
});

describe('restart backoff', () => {
  it('restarts at once after the first crash, then doubles up to a cap', () => {
    expect([1, 2, 3, 4, 5].map((n) => restartDelayMs(n))).toEqual([0, 1000, 2000, 4000, 8000]);
    expect(restartDelayMs(30)).toBe(60_000);
  });
});

describe('memory placement', () => {
  it('fits when the reservations fit in what is unreserved', () => {
    expect(checkPlacement({ replicas: 2, reservationMiB: 100, reservedMiB: 800, capacityMiB: 1000 })).toEqual({ fits: true });
  });

  it('says how much is needed and how much is free when it does not fit', () => {
    const result = checkPlacement({ replicas: 3, reservationMiB: 100, reservedMiB: 800, capacityMiB: 1000 });
    expect(result).toEqual({
      fits: false,
      reason: 'not enough memory: 3 task(s) × 100 MiB reserved = 300 MiB, but only 200 MiB of 1000 MiB is unreserved',
    });
  });
});
