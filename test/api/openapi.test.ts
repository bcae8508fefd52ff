import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance, FastifyServerOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildApp } from '../../src/api/app.js';
import { AuthFailureLimiter } from '../../src/api/auth-limiter.js';
import { Authenticator } from '../../src/api/auth.js';
import { loadOrCreateSigningKey } from '../../src/registry/keys.js';
import { UiSessions } from '../../src/api/ui-sessions.js';
import { Observability } from '../../src/server/observability.js';
import { registryTokenRoutes } from '../../src/registry/routes.js';
import { TokenService } from '../../src/registry/token-service.js';
import { AuditTrail } from '../../src/store/audit.js';
import { openDatabase } from '../../src/store/database.js';
import { Store } from '../../src/store/store.js';
import { ADMIN, noDatabases, RecordingSwitch, StaticJobObserver, StaticObserver } from '../support/api-harness.js';
import { NO_CERTIFICATES } from '../../src/tls/certificates.js';

interface RegisteredRoute {
  method: string;
  url: string;
  hidden: boolean;
}

// Fastify has no public list of an app's routes, and buildApp registers them
// before a caller could add an onRoute hook; so every Fastify instance made
// while this file runs gets the hook the moment it is created.
const registered = vi.hoisted(() => [] as RegisteredRoute[]);
vi.mock('fastify', async (importOriginal) => {
  const real = await importOriginal<typeof import('fastify')>();
  const withRouteLog = ((options?: FastifyServerOptions) => {
    const app = real.default(options);
    app.addHook('onRoute', (route) => {
      const schema = route.schema as { hide?: boolean } | undefined;
      for (const method of ([] as string[]).concat(route.method)) registered.push({ method, url: route.url, hidden: schema?.hide === true });
    });
    return app;
  }) as typeof real.default;
  return { ...real, default: withRouteLog };
});

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

let app: FastifyInstance;
let keyDir: string;
let doc: OpenApiDoc;

interface Operation {
  responses?: Record<string, { description?: unknown }>;
  parameters?: { in: string; name: string; required?: boolean }[];
  operationId?: string;
}
interface OpenApiDoc {
  openapi: string;
  info: { title: unknown; version: unknown };
  paths: Record<string, Record<string, Operation>>;
  components?: { schemas?: Record<string, unknown> };
}

beforeAll(async () => {
  keyDir = mkdtempSync(join(tmpdir(), 'berth-openapi-'));
  const clock = { now: () => Date.now() };
  const store = new Store(openDatabase(':memory:'), clock);
  const tokens = new TokenService({ key: await loadOrCreateSigningKey(keyDir), issuer: 'berth', service: 'berth-registry' });
  // Mounted as the server mounts it, so the document is checked against everything the server serves.
  app = await buildApp(
    {
      store,
      observer: new StaticObserver(),
      auth: new Authenticator(ADMIN, store.projects, new AuthFailureLimiter(clock, 1000)),
      publicUrl: 'http://gw.example:8080',
      hostPolicy: { hostPorts: null, bindMountDirs: [] },
      realPath: async (path: string) => path,
      exec: null,
    sessions: new UiSessions(clock),
    uiDir: null,
      metrics: await Observability.start({ store, certificates: () => NO_CERTIFICATES, routeMetrics: async () => null, sampler: null, listen: null, logger: { info: () => undefined, warn: () => undefined, error: () => undefined } }),
      desiredStateChanged: () => undefined,
      certificates: NO_CERTIFICATES,
      ...noDatabases(store),
      dockerCredentials: null,
      ownRegistry: null,
      jobs: new StaticJobObserver(),
      capacityMiB: async () => 1024,
      colours: new RecordingSwitch(),
      audit: new AuditTrail(store.db, clock, null, (error) => {
        throw error;
      }),
    },
    { plugins: [async (instance) => instance.register(registryTokenRoutes, { tokens, authenticate: () => null })] },
  );
  await app.ready();
  const res = await app.inject({ method: 'GET', url: '/openapi.json' });
  expect(res.statusCode).toBe(200);
  doc = res.json<OpenApiDoc>();
});

afterAll(async () => {
  await app?.close();
  rmSync(keyDir, { recursive: true, force: true });
});

describe('GET /openapi.json', () => {
  it('is an OpenAPI 3 document', () => {
    expect(doc.openapi).toMatch(/^3\.\d+\.\d+$/);
    expect(doc.info.title).toEqual(expect.any(String));
    expect(doc.info.version).toEqual(expect.any(String));
    expect(Object.keys(doc.paths).length).toBeGreaterThan(0);
    const operationIds = new Set<string>();
    for (const [path, item] of Object.entries(doc.paths)) {
      expect(path, path).toMatch(/^\//);
      for (const [method, operation] of Object.entries(item)) {
        if (method === 'parameters') continue;
        expect(HTTP_METHODS, `${method} ${path}`).toContain(method);
        const responses = Object.entries(operation.responses ?? {});
        expect(responses.length, `${method} ${path} has responses`).toBeGreaterThan(0);
        for (const [status, response] of responses) {
          expect(status, `${method} ${path}`).toMatch(/^([1-5]\d\d|[1-5]XX|default)$/);
          expect(response.description, `${method} ${path} ${status} has a description`).toEqual(expect.any(String));
        }
        // Every {param} of the path is declared as a required path parameter.
        for (const [, name] of path.matchAll(/\{([^}]+)\}/g)) {
          expect(operation.parameters?.find((p) => p.in === 'path' && p.name === name), `${method} ${path} declares {${name}}`).toMatchObject({ required: true });
        }
        if (operation.operationId !== undefined) {
          expect(operationIds.has(operation.operationId), operation.operationId).toBe(false);
          operationIds.add(operation.operationId);
        }
      }
    }
  });

  it('refers only to schemas it defines', () => {
    const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"([^"]+)"/g)].map((m) => m[1] ?? '');
    for (const ref of refs) {
      const match = /^#\/components\/schemas\/(.+)$/.exec(ref);
      expect(match, ref).not.toBeNull();
      expect(doc.components?.schemas?.[decodeURIComponent(match?.[1] ?? '')], ref).toBeDefined();
    }
  });

  it('lists every route the app serves, except the hidden ones and the automatic HEADs', () => {
    const visible = registered.filter((r) => !r.hidden && r.method !== 'HEAD');
    expect(visible.length).toBeGreaterThan(5);
    const served = new Set(visible.map((r) => `${r.method.toLowerCase()} ${r.url.replace(/:([A-Za-z0-9_]+)/g, '{$1}')}`));
    const documented = new Set(Object.entries(doc.paths).flatMap(([path, item]) => Object.keys(item).filter((m) => HTTP_METHODS.includes(m)).map((m) => `${m} ${path}`)));
    expect([...documented].sort()).toEqual([...served].sort());
    expect(served).toContain('get /services/{name}/logs/stream');
    expect(served).toContain('get /registry/token');
    // and the hidden ones are really left out
    for (const hidden of registered.filter((r) => r.hidden)) expect(doc.paths[hidden.url]).toBeUndefined();
  });
});
