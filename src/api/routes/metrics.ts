import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { serviceKey } from '../../metrics/history.js';
import { ServiceNotFoundError } from '../../domain/errors.js';
import type { ApiDeps } from '../ports.js';
import { ErrorBody, ServiceParams } from '../schemas.js';

const HOUR_MS = 3_600_000;

const HistoryDoc = Type.Object({
  interval_seconds: Type.Number(),
  points: Type.Array(
    Type.Object({
      at: Type.String(),
      memory_bytes: Type.Union([Type.Number(), Type.Null()]),
      request_rate: Type.Union([Type.Number(), Type.Null()]),
      error_rate: Type.Union([Type.Number(), Type.Null()]),
      p95_seconds: Type.Union([Type.Number(), Type.Null()]),
    }),
  ),
});

/** `GET /metrics` (Prometheus text, admin token) and a service's last hour for its charts (project token). */
export function metricsRoutes(deps: ApiDeps): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.get(
      '/metrics',
      { schema: { tags: ['metrics'], summary: 'Prometheus metrics (admin token; or without a token on --metrics-listen)', produces: ['text/plain'], response: { 200: Type.String(), 403: ErrorBody } } },
      async (request, reply) => {
        deps.auth.requireAdmin(request);
        const { contentType, body } = await deps.metrics.text();
        return reply.type(contentType).send(body);
      },
    );

    app.get(
      '/services/:name/metrics',
      { schema: { tags: ['services'], summary: "The service's last hour: memory, request rate, error rate, p95 latency", params: ServiceParams, response: { 200: HistoryDoc, 403: ErrorBody, 404: ErrorBody } } },
      async (request) => {
        const project = deps.auth.requireProject(request);
        const service = deps.store.services.find(project, request.params.name);
        if (!service) throw new ServiceNotFoundError(request.params.name.slice(0, 64));
        return {
          interval_seconds: deps.metrics.intervalSeconds,
          points: deps.metrics.history(serviceKey(project, service.name), Date.now() - HOUR_MS).map((p) => ({
            at: new Date(p.at).toISOString(),
            memory_bytes: p.memoryBytes,
            request_rate: p.requestRate,
            error_rate: p.errorRate,
            p95_seconds: p.p95Seconds,
          })),
        };
      },
    );
  };
}
