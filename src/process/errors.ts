import { BerthError } from '../domain/errors.js';

/** A supervised process could not be spawned, or did not answer within its ready timeout. */
export class ProcessStartError extends BerthError {
  readonly code = 'BERTH_PROCESS_START_FAILED';
  readonly status = 503;
}

/** A signal was asked for while no process runs (not started yet, restarting, detached or stopped). */
export class ProcessNotRunningError extends BerthError {
  readonly code = 'BERTH_PROCESS_NOT_RUNNING';
  readonly status = 503;
  constructor(name: string) {
    super(`${name} is not running`);
  }
}

/** A process survived SIGKILL within the bound, or /proc said something unexpected about it. */
export class ProcessControlError extends BerthError {
  readonly code = 'BERTH_PROCESS_CONTROL_FAILED';
  readonly status = 500;
}
