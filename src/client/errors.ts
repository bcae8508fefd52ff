/**
 * What the SDK throws. Every class carries a stable `code` so callers (the
 * CLI first) switch on the code rather than on messages or classes.
 */
export abstract class BerthClientError extends Error {
  abstract readonly code: string;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The server answered with an error status; `code` is the server's, or derived from the status. */
/** One problem of a refused compose file: where, and why. */
export interface ApiProblem {
  readonly path: string;
  readonly message: string;
  readonly line?: number;
  readonly file?: string;
}

export class BerthApiError extends BerthClientError {
  readonly code: string;

  constructor(
    readonly status: number,
    code: string | undefined,
    message: string,
    /** BERTH_INVALID_COMPOSE: every problem of the files. */
    readonly problems: readonly ApiProblem[] = [],
  ) {
    super(message);
    this.code = code ?? codeForStatus(status);
  }
}

/** No HTTP answer at all: refused, DNS, TLS, reset. */
export class BerthUnreachableError extends BerthClientError {
  readonly code = 'BERTH_UNREACHABLE';

  constructor(url: string, cause: unknown) {
    super(`Cannot reach the berth server at ${url}: ${causeText(cause)}`, { cause });
  }
}

/** A request or a wait took longer than its bound. */
export class BerthTimeoutError extends BerthClientError {
  readonly code = 'BERTH_TIMEOUT';
}

/** A stream of bytes (a dump) ended before its end: what came is not whole. */
export class BerthTransferBrokenError extends BerthClientError {
  readonly code = 'BERTH_TRANSFER_BROKEN';
}

/** A success status with a body that is not what the API sends (a proxy page, a different server). */
export class BerthResponseError extends BerthClientError {
  readonly code = 'BERTH_BAD_RESPONSE';
}

/**
 * Servers that predate `code` (servicectl itself) send only `{"Error": …}`;
 * these codes keep the CLI's one-line errors informative for them.
 */
export function codeForStatus(status: number): string {
  switch (status) {
    case 400:
      return 'BERTH_BAD_REQUEST';
    case 401:
    case 403:
      return 'BERTH_TOKEN_INVALID';
    case 404:
      return 'BERTH_NOT_FOUND';
    case 405:
      return 'BERTH_METHOD_NOT_ALLOWED';
    case 409:
      return 'BERTH_CONFLICT';
    case 413:
      return 'BERTH_PAYLOAD_TOO_LARGE';
    case 415:
      return 'BERTH_UNSUPPORTED_MEDIA_TYPE';
    case 429:
      return 'BERTH_AUTH_RATE_LIMITED';
    case 501:
      return 'BERTH_NOT_IMPLEMENTED';
    case 502:
    case 503:
    case 504:
      return 'BERTH_UNAVAILABLE';
    default:
      return status >= 500 ? 'BERTH_INTERNAL' : `BERTH_HTTP_${status}`;
  }
}

/** undici wraps the useful part ("connect ECONNREFUSED …") in `cause`. */
function causeText(cause: unknown): string {
  if (cause instanceof Error) {
    const inner = cause.cause instanceof Error ? cause.cause.message : null;
    return inner ?? cause.message;
  }
  return String(cause);
}
