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

/** A route table nginx could not route by (a bug in the caller); nothing was written. */
export class GatewayRoutesRejectedError extends BerthError {
  readonly code = 'BERTH_GATEWAY_ROUTES_REJECTED';
  readonly status = 500;
}

/** The route table file could not be written; nginx keeps the previous table. */
export class GatewayTableWriteError extends BerthError {
  readonly code = 'BERTH_GATEWAY_TABLE_WRITE_FAILED';
  readonly status = 500;
}

/** nginx is not there to answer, or its module is missing: not installed, not built, not started, or stopped. */
export class GatewayUnavailableError extends BerthError {
  readonly code = 'BERTH_GATEWAY_UNAVAILABLE';
  readonly status = 503;
}

/** A certificate or an ACME challenge answer could not be written where nginx reads it; nginx keeps serving the previous one. */
export class GatewayCertificateWriteError extends BerthError {
  readonly code = 'BERTH_GATEWAY_CERTIFICATE_WRITE_FAILED';
  readonly status = 500;
}
