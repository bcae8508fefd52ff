import cookie from '@fastify/cookie';
import swagger from '@fastify/swagger';
import websocket from '@fastify/websocket';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyServerOptions } from 'fastify';
import { installErrorHandling } from './error-handler.js';
import type { ApiDeps } from './ports.js';
import { certificateRoutes } from './routes/certs.js';
import { colourRoutes } from './routes/colours.js';
import { databaseRoutes } from './routes/databases.js';
import { execRoutes } from './routes/exec.js';
import { liveRoutes } from './routes/live.js';
import { metricsRoutes } from './routes/metrics.js';
import { uiRoutes } from './routes/ui.js';
import { jobRoutes } from './routes/jobs.js';
import { nodeRoutes } from './routes/nodes.js';
import { projectRoutes } from './routes/projects.js';
import { resourceRoutes } from './routes/resources.js';
import { serviceRoutes } from './routes/services.js';
import { stackRoutes } from './routes/stacks.js';

export const BODY_LIMIT_BYTES = 1024 * 1024;

export interface AppOptions {
  readonly logger?: FastifyServerOptions['logger'];
  /** Extra route plugins the composition root mounts (e.g. the registry's token endpoint). */
  readonly plugins?: readonly ((app: FastifyInstance) => Promise<void>)[];
}

/** Builds the API. No I/O of its own: everything comes in through `deps`. */
export async function buildApp(deps: ApiDeps, options: AppOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: BODY_LIMIT_BYTES,
    trustProxy: false,
    // Long names reach validation and get a clear 400/405 instead of the router's bare 414.
    routerOptions: { maxParamLength: 1024 },
    // Errors the framework raises before routing (bad URL encoding…) get the same {"Error"} body.
    frameworkErrors: (error, _request, reply: FastifyReply) => {
      const status = (error as { statusCode?: number }).statusCode ?? 400;
      void reply.code(status >= 400 && status < 500 ? status : 400).send({ Error: error.message, code: 'BERTH_BAD_REQUEST' });
    },
    ajv: {
      // Wrong types are errors, not something to coerce; unknown fields are refused, not dropped.
      customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false, allErrors: false },
    },
  }).withTypeProvider<TypeBoxTypeProvider>();

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'berth API', version: '1', description: 'The servicectl Services API and berth’s extensions' },
      components: {
        securitySchemes: {
          token: { type: 'apiKey', in: 'header', name: 'X-Auth-Token' },
          bearer: { type: 'http', scheme: 'bearer' },
        },
      },
      security: [{ token: [] }, { bearer: [] }],
    },
  });
  // The dashboard's session cookie (api/ui-sessions.ts); nothing else reads cookies.
  await app.register(cookie);
  // `compose exec` (routes/exec.ts); a frame holds at most 1 MiB of a process's stdin.
  await app.register(websocket, { options: { maxPayload: 1024 * 1024 } });
  installErrorHandling(app);
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  app.get('/healthz', { schema: { hide: true } }, async () => ({ ok: true }));
  await app.register(projectRoutes(deps));
  await app.register(serviceRoutes(deps));
  await app.register(colourRoutes(deps));
  await app.register(jobRoutes(deps));
  await app.register(certificateRoutes(deps));
  await app.register(databaseRoutes(deps));
  await app.register(nodeRoutes(deps));
  await app.register(stackRoutes(deps));
  await app.register(resourceRoutes(deps));
  await app.register(execRoutes(deps));
  await app.register(metricsRoutes(deps));
  await app.register(uiRoutes(deps));
  await app.register(liveRoutes(deps));
  for (const plugin of options.plugins ?? []) await app.register(plugin);
  return app;
}
