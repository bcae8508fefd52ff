import type { FastifyError, FastifyInstance } from 'fastify';
import { BerthError, RouteNotFoundError, TooManyAuthFailuresError } from '../domain/errors.js';

/** The only place errors become HTTP answers: `{"Error": message, "code": code}`. */
export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError | BerthError | Error, request, reply) => {
    if (error instanceof BerthError) {
      if (error instanceof TooManyAuthFailuresError) reply.header('retry-after', String(error.retryAfterSeconds));
      if (error.status >= 500) request.log.error({ err: error }, 'request failed');
      return reply.status(error.status).send({ ...error.details, Error: error.message, code: error.code });
    }
    const fastifyError = error as FastifyError;
    if (fastifyError.validation) {
      return reply.status(400).send({ Error: validationMessage(fastifyError), code: 'BERTH_BAD_REQUEST' });
    }
    const status = fastifyError.statusCode;
    if (status !== undefined && status >= 400 && status < 500) {
      return reply.status(status).send({ Error: clientMessage(fastifyError), code: codeForStatus(status) });
    }
    request.log.error({ err: error }, 'unexpected error');
    return reply.status(500).send({ Error: 'Internal error; the server log has details', code: 'BERTH_INTERNAL' });
  });
  app.setNotFoundHandler((request, reply) => {
    const error = new RouteNotFoundError(request.method, request.url.split('?')[0] ?? '');
    return reply.status(404).send({ Error: error.message, code: error.code });
  });
}

function validationMessage(error: FastifyError): string {
  const first = error.validation?.[0];
  if (!first) return error.message;
  const where = `${error.validationContext ?? 'request'}${first.instancePath ? first.instancePath.replace(/\//g, '.') : ''}`;
  if (first.keyword === 'additionalProperties') {
    const extra = (first.params as { additionalProperty?: string }).additionalProperty ?? '?';
    return `${where} has an unknown field '${extra.slice(0, 64)}'`;
  }
  return `${where} ${first.message ?? 'is invalid'}`;
}

function clientMessage(error: FastifyError): string {
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return 'Request body is too large';
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return 'Send the body as application/json';
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return 'The JSON body is empty';
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return 'Content-Length does not match the body';
    default:
      return error.message.startsWith('Unexpected') || error instanceof SyntaxError
        ? `Body is not valid JSON: ${error.message.slice(0, 120)}`
        : error.message.slice(0, 200);
  }
}

function codeForStatus(status: number): string {
  switch (status) {
    case 413:
      return 'BERTH_PAYLOAD_TOO_LARGE';
    case 415:
      return 'BERTH_UNSUPPORTED_MEDIA_TYPE';
    default:
      return 'BERTH_BAD_REQUEST';
  }
}
