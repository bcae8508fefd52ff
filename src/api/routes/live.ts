import { PassThrough } from 'node:stream';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { ServiceNotFoundError } from '../../domain/errors.js';
import { serviceKey } from '../../metrics/history.js';
import { sleep } from '../../process/wait.js';
import { eventDoc } from '../colour-documents.js';
import { rowsFor } from '../colour-scope.js';
import { iso } from '../documents.js';
import type { ApiDeps } from '../ports.js';
import { ErrorBody, ServiceParams } from '../schemas.js';
import { serviceStatusDoc } from '../service-status.js';

/** How often a stream looks for what changed; the page itself never polls. */
const LOOK_MS = 1_000;
/** A comment now and then keeps proxies from closing a quiet stream. */
const HEARTBEAT_MS = 15_000;
const HOUR_MS = 3_600_000;

/**
 * `GET /services/<name>/live`: server-sent events for the dashboard's service page — `status`
 * (the status document, when it changed), `event` (each new event), `point` (each new chart
 * point) — until the client goes or the server stops.
 */
export function liveRoutes(deps: ApiDeps): FastifyPluginAsyncTypebox {
  const open = new Set<AbortController>();
  return async (app) => {
    app.addHook('onClose', async () => {
      for (const stream of open) stream.abort();
    });

    app.get(
      '/services/:name/live',
      { schema: { tags: ['services'], summary: 'Server-sent events: status, events and chart points of the service as they change', params: ServiceParams, produces: ['text/event-stream'], response: { 200: Type.Unknown(), 403: ErrorBody, 404: ErrorBody } } },
      async (request, reply) => {
        const project = deps.auth.requireProject(request);
        const service = deps.store.services.find(project, request.params.name);
        if (!service) throw new ServiceNotFoundError(request.params.name.slice(0, 64));
        const stop = new AbortController();
        open.add(stop);
        const out = new PassThrough();
        request.raw.on('close', () => stop.abort());
        const send = (event: string, data: unknown): void => void out.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
        const key = serviceKey(project, service.name);
        const follow = async (): Promise<void> => {
          let lastStatus = '';
          let lastEvent = deps.store.events.listOfMany([...rowsFor(deps.store, service, undefined).keys()], 1)[0]?.id ?? 0;
          let lastPoint = Date.now() - HOUR_MS;
          let lastBeat = Date.now();
          while (!stop.signal.aborted) {
            const current = deps.store.services.byId(service.id);
            if (!current) return send('gone', { name: service.name });
            const status = JSON.stringify(await serviceStatusDoc(deps, current));
            if (status !== lastStatus) {
              lastStatus = status;
              out.write(`event: status\ndata: ${status}\n\n`);
            }
            // The service's own events and every colour's, colours made since included.
            const rows = rowsFor(deps.store, current, undefined);
            for (const e of deps.store.events.sinceOfMany([...rows.keys()], lastEvent, 200)) {
              lastEvent = e.id;
              send('event', { id: e.id, ...eventDoc(e, rows), deployment_id: e.deploymentId });
            }
            for (const p of deps.metrics.history(key, lastPoint + 1)) {
              lastPoint = p.at;
              send('point', { at: iso(p.at), memory_bytes: p.memoryBytes, request_rate: p.requestRate, error_rate: p.errorRate, p95_seconds: p.p95Seconds });
            }
            if (Date.now() - lastBeat >= HEARTBEAT_MS) {
              lastBeat = Date.now();
              out.write(': still here\n\n');
            }
            await sleep(LOOK_MS, stop.signal);
          }
        };
        follow()
          .catch((error: unknown) => request.log.error({ err: error }, `following ${service.name} live failed`))
          .finally(() => {
            open.delete(stop);
            out.end();
          });
        return reply.type('text/event-stream').header('cache-control', 'no-store').header('x-accel-buffering', 'no').send(out);
      },
    );
  };
}
