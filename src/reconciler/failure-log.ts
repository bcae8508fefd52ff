import type { Clock } from '../domain/model.js';

export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** How often a failure that keeps repeating is logged again, with its count. */
export const REPEAT_LOG_MS = 60_000;

interface Incident {
  readonly message: string;
  readonly since: number;
  count: number;
  loggedAt: number;
  loggedCount: number;
}

/**
 * Logs a failure that repeats on every pass once, then once a minute with how often it
 * happened, and once more when it stops: a bad service must not fill the log with the same
 * stack trace several times a second (17 MB in 90 s was seen).
 */
export class FailureLog {
  private readonly incidents = new Map<string, Incident>();

  constructor(
    private readonly logger: Logger,
    private readonly clock: Clock,
    private readonly repeatMs = REPEAT_LOG_MS,
  ) {}

  /** `key` names what failed (a service, the pass); `detail` is logged the first time only. */
  failed(key: string, message: string, detail: string = message): void {
    const now = this.clock.now();
    const incident = this.incidents.get(key);
    if (!incident || incident.message !== message) {
      this.incidents.set(key, { message, since: now, count: 1, loggedAt: now, loggedCount: 1 });
      this.logger.error(`${key}: ${detail}`);
      return;
    }
    incident.count++;
    if (now - incident.loggedAt < this.repeatMs) return;
    const again = incident.count - incident.loggedCount;
    this.logger.error(`${key}: failed ${again} more time${again === 1 ? '' : 's'} (${incident.count} since ${new Date(incident.since).toISOString()}): ${message}`);
    incident.loggedAt = now;
    incident.loggedCount = incident.count;
  }

  /** What failed under `key` works again. */
  succeeded(key: string): void {
    const incident = this.incidents.get(key);
    if (!incident) return;
    this.incidents.delete(key);
    if (incident.count > 1) this.logger.info(`${key}: works again after ${incident.count} failures`);
  }
}
