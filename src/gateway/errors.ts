import { BerthError } from '../domain/errors.js';

/** `nginx -t` refused the rendered configuration; the previous file stays in place. */
export class GatewayConfigRejectedError extends BerthError {
  readonly code = 'BERTH_GATEWAY_CONFIG_REJECTED';
  readonly status = 500;
}

/** nginx did not take a new configuration on reload (it keeps serving the previous one). */
export class GatewayReloadError extends BerthError {
  readonly code = 'BERTH_GATEWAY_RELOAD_FAILED';
  readonly status = 500;
}

/** The admin endpoint refused a route table as invalid: a bug in the caller, so never retried. */
export class GatewayRoutesRejectedError extends BerthError {
  readonly code = 'BERTH_GATEWAY_ROUTES_REJECTED';
  readonly status = 500;
}

/** nginx is not there to answer: not installed, not started, restarting, or stopped. */
export class GatewayUnavailableError extends BerthError {
  readonly code = 'BERTH_GATEWAY_UNAVAILABLE';
  readonly status = 503;
}
