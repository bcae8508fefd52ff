import { request, type ClientRequest } from 'node:http';
import { statusMatches, type StatusRange } from '../domain/health-check.js';
import { errorCode } from '../process/proc-fs.js';

/** One task to probe. */
export interface ProbeTarget {
  /** The task name. */
  readonly id: string;
  readonly host: string;
  readonly port: number;
  /** The full path, context root included, e.g. "/exp-2-web/health". */
  readonly path: string;
  readonly statusCodes: readonly StatusRange[];
  readonly intervalSeconds: number;
}

export type HealthState = 'initial' | 'healthy' | 'unhealthy';

export interface TargetHealth {
  readonly state: HealthState;
  /** Why the last probe failed; absent while healthy. */
  readonly description?: string;
}

/** Timers the prober schedules probes with; tests pass a manual one. */
export interface ProberClock {
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface HealthProberOptions {
  /** Default: the real clock. */
  readonly clock?: ProberClock;
  /** A probe that has not answered by then fails; default 2 s. */
  readonly timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 2_000;
/**
 * While a target is initial, a failed probe is repeated after 10 ms, then 20, 40 and 80, then
 * every 100 ms: a new task is routed to soon after it answers, whether it listens a few
 * milliseconds after its start or a few seconds, and a slow one costs ten probes a second.
 */
const INITIAL_RETRY_FIRST_MS = 10;
const INITIAL_RETRY_MAX_MS = 100;
/** A healthy target turns unhealthy after this many failed probes in a row. */
const FAILURES_TO_UNHEALTHY = 2;

const REAL_CLOCK: ProberClock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

interface Entry {
  target: ProbeTarget;
  health: TargetHealth;
  readonly addedAt: number;
  failures: number;
  timer: unknown;
  inFlight: ClientRequest | null;
  removed: boolean;
}

/**
 * berth's active health checks: an HTTP GET of each target's path.
 *
 * A new target is `initial` and is probed at once, then again after 10 ms, doubling up to
 * every 100 ms. The first success makes it `healthy`. Failures keep it `initial` (with the
 * reason in `description`) for two intervals, the time two regular probes take, so a
 * slow-starting task is not reported unhealthy sooner than it would be once running; after
 * that it is `unhealthy`.
 * From then on it is probed at its interval: a healthy target turns `unhealthy` after two
 * failures in a row, an unhealthy one `healthy` after one success. Listeners hear about
 * changes of state, not of description.
 */
export class HealthProber {
  private readonly clock: ProberClock;
  private readonly timeoutMs: number;
  private readonly entries = new Map<string, Entry>();
  private readonly listeners: ((id: string) => void)[] = [];
  private stopped = false;

  constructor(options: HealthProberOptions = {}) {
    this.clock = options.clock ?? REAL_CLOCK;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  /**
   * The complete list of targets. Targets not in it are dropped; a target whose address or
   * path changed starts over as initial; new status codes or intervals apply from the next probe.
   */
  setTargets(targets: readonly ProbeTarget[]): void {
    if (this.stopped) return;
    const wanted = new Map(targets.map((target) => [target.id, target]));
    for (const [id, entry] of this.entries) {
      const target = wanted.get(id);
      if (target === undefined || !sameEndpoint(target, entry.target)) this.drop(id, entry);
      // Kept when nothing changed: the reconciler sends every target on every pass, and
      // replacing each one would keep hundreds of new objects alive per pass (BENCHMARKS.md).
      else if (!sameSettings(target, entry.target)) entry.target = target;
    }
    for (const target of wanted.values()) {
      if (this.entries.has(target.id)) continue;
      const entry: Entry = {
        target,
        health: { state: 'initial' },
        addedAt: this.clock.now(),
        failures: 0,
        timer: undefined,
        inFlight: null,
        removed: false,
      };
      this.entries.set(target.id, entry);
      this.probe(entry);
    }
  }

  /** A target berth has not asked about (yet) is `initial`. */
  health(id: string): TargetHealth {
    return this.entries.get(id)?.health ?? { state: 'initial' };
  }

  onChange(listener: (id: string) => void): void {
    this.listeners.push(listener);
  }

  stop(): void {
    this.stopped = true;
    for (const [id, entry] of this.entries) this.drop(id, entry);
  }

  private drop(id: string, entry: Entry): void {
    entry.removed = true;
    this.clock.clearTimeout(entry.timer);
    entry.inFlight?.destroy();
    this.entries.delete(id);
  }

  private probe(entry: Entry): void {
    const { target } = entry;
    entry.inFlight = probeOnce(target, this.timeoutMs, (failure) => {
      entry.inFlight = null;
      if (entry.removed) return;
      this.record(entry, failure);
      const delay =
        entry.health.state === 'initial'
          ? Math.min(INITIAL_RETRY_MAX_MS, INITIAL_RETRY_FIRST_MS * 2 ** (entry.failures - 1))
          : entry.target.intervalSeconds * 1000;
      entry.timer = this.clock.setTimeout(() => this.probe(entry), delay);
    });
  }

  /** failure: null when the probe passed, else why it failed. */
  private record(entry: Entry, failure: string | null): void {
    const before = entry.health.state;
    if (failure === null) {
      entry.failures = 0;
      entry.health = { state: 'healthy' };
    } else {
      entry.failures += 1;
      const state = this.stateAfterFailure(entry);
      entry.health = state === 'healthy' ? { state } : { state, description: failure };
    }
    if (entry.health.state !== before) this.notify(entry.target.id);
  }

  private stateAfterFailure(entry: Entry): HealthState {
    const state = entry.health.state;
    if (state === 'initial') {
      const graceMs = FAILURES_TO_UNHEALTHY * entry.target.intervalSeconds * 1000;
      return this.clock.now() - entry.addedAt >= graceMs ? 'unhealthy' : 'initial';
    }
    return state === 'healthy' && entry.failures < FAILURES_TO_UNHEALTHY ? 'healthy' : 'unhealthy';
  }

  private notify(id: string): void {
    for (const listener of this.listeners) {
      try {
        listener(id);
      } catch (error) {
        // Thrown from a timer callback it would end the process; probing must go on.
        process.emitWarning(error instanceof Error ? error : String(error), 'BerthProberWarning');
      }
    }
  }
}

function sameEndpoint(a: ProbeTarget, b: ProbeTarget): boolean {
  return a.host === b.host && a.port === b.port && a.path === b.path;
}

/** The status ranges compare by identity: a service's health check read again is a new array, and is taken. */
function sameSettings(a: ProbeTarget, b: ProbeTarget): boolean {
  return a.statusCodes === b.statusCodes && a.intervalSeconds === b.intervalSeconds;
}

/** One GET; done gets null on success or a description of the failure, exactly once, never synchronously. */
function probeOnce(target: ProbeTarget, timeoutMs: number, done: (failure: string | null) => void): ClientRequest | null {
  let req: ClientRequest;
  try {
    req = request({
      host: target.host,
      port: target.port,
      path: target.path,
      method: 'GET',
      // A fresh connection each time: a reused one could hide that the task stopped accepting.
      agent: false,
      headers: { 'User-Agent': 'berth-health-check', Connection: 'close' },
    });
  } catch (error) {
    // e.g. a path Node refuses to send: a failed probe, reported like any other.
    const failure = error instanceof Error ? error.message : String(error);
    setImmediate(() => done(failure));
    return null;
  }
  const timer = setTimeout(() => finish(`timed out after ${formatSeconds(timeoutMs)}`), timeoutMs);
  let finished = false;
  function finish(failure: string | null): void {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    req.destroy();
    done(failure);
  }
  req.on('response', (res) => {
    const status = res.statusCode ?? 0;
    res.resume();
    finish(statusMatches(target.statusCodes, status) ? null : `Health checks failed with these codes: [${status}]`);
  });
  req.on('error', (error) => finish(describeError(error)));
  req.end();
  return req;
}

function describeError(error: Error): string {
  switch (errorCode(error)) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ECONNRESET':
      return 'connection reset';
    case 'EHOSTUNREACH':
      return 'host unreachable';
    case 'ETIMEDOUT':
      return 'connect timed out';
    default:
      return error.message;
  }
}

function formatSeconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(3))} s`;
}
