/** Restart delay after the n-th consecutive crash: the first restart is immediate, then 1 s, 2 s, 4 s … capped. */
export function restartDelayMs(consecutiveCrashes: number, baseMs = 1000, capMs = 60_000): number {
  if (consecutiveCrashes <= 1) return 0;
  return Math.min(capMs, baseMs * 2 ** (consecutiveCrashes - 2));
}

/** A crash loop is declared after this many crashes without a stable run in between. */
export const CRASH_LOOP_THRESHOLD = 3;

/** A task that ran this long without dying resets the crash counter. */
export const STABLE_RUN_MS = 30_000;

export function isCrashLooping(service: { readonly crashCount: number }): boolean {
  return service.crashCount >= CRASH_LOOP_THRESHOLD;
}

/**
 * What a task's exit means under its restart policy (a stack service's; a plain service's is
 * always restarted): a crash (restarted, with backoff), a completion (exit 0 of a task that is
 * not to be restarted: it did its work) or an exit that stays (restart: "no").
 */
export function exitOutcome(restart: 'no' | 'always' | 'on-failure' | 'unless-stopped' | null, exitCode: number | null): 'crash' | 'completed' | 'exited' {
  if (restart === null || restart === 'always' || restart === 'unless-stopped') return 'crash';
  if (exitCode === 0) return 'completed';
  return restart === 'no' ? 'exited' : 'crash';
}
