import { Cron } from 'croner';
import { InvalidJobError } from './errors.js';

/**
 * A job's schedule: a cron expression (five fields, or six with seconds), in UTC. Parsed
 * by croner; berth only asks it when the next run is due.
 */
export function assertSchedule(expression: string): void {
  nextRunAfter(expression, new Date());
}

/** The first due time after `after`; throws InvalidJobError for an expression that does not parse or never fires. */
export function nextRunAfter(expression: string, after: Date): Date {
  let next: Date | null;
  try {
    next = new Cron(expression, { timezone: 'UTC' }).nextRun(after);
  } catch (error) {
    throw new InvalidJobError(`'schedule' is not a cron expression: ${(error as Error).message}`);
  }
  if (next === null) throw new InvalidJobError(`'schedule' ${expression} never fires`);
  return next;
}
