import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  BerthApiError,
  BerthClient,
  BerthResponseError,
  BerthTimeoutError,
  BerthUnreachableError,
  type DeploymentProgress,
  type LogLine,
} from '../../src/client/index.js';
import type { DeploymentStep } from '../../src/domain/deployment.js';
import { apiHarness, createProject, VALID_DEFINITION, type Harness } from '../support/api-harness.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** A throw-away HTTP server on a free loopback port; answers with `handler`. */
async function serve(handler: Handler): Promise<{ url: string; server: Server; requests: string[] }> {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, requests };
}

const servers: Server[] = [];
async function fake(handler: Handler): Promise<{ url: string; requests: string[] }> {
  const s = await serve(handler);
  servers.push(s.server);
  return s;
}
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((resolve) => s.close(resolve));
  }
});

async function caught(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

describe('BerthClient against the real API (in-process store, real HTTP)', () => {
  let h: Harness;
  let client: BerthClient;

  beforeEach(async () => {
    h = await apiHarness();
    const token = await createProject(h.app, 'exp');
    const url = await h.app.listen({ port: 0, host: '127.0.0.1' });
    client = new BerthClient({ url: `${url}/`, token });
  });
  afterEach(async () => h.close());

  it('creates, lists, updates, inspects and deletes a service', async () => {
    const created = await client.createService('web', { rel_path: '/health', status_codes: '200-299', interval: 2 });
    expect(created.name).toBe('web');
    expect(created.links.map((l) => l.rel)).toEqual(['self', 'deployment']);
    expect((await client.listServices()).map((s) => s.name)).toEqual(['web']);

    const update = await client.updateService('web', VALID_DEFINITION);
    expect(update).toMatchObject({ name: 'web', revision: 1 });
    const doc = await client.getService('web');
    expect(doc.status.service_status).toBe('INACTIVE');
    expect(doc.status.target_health.health_check_path).toBe('/exp-web/health');
    expect(doc.status.deployment?.id).toBe(update.deployment);

    expect((await client.deployments('web')).map((d) => d.id)).toEqual([update.deployment]);
    expect((await client.deployment('web', update.deployment)).step).toBe('pending');
    expect((await client.cancelDeployment('web', update.deployment)).step).toBe('rolling-back');
    const events = await client.events('web');
    expect(events.events.map((e) => e.message)).toEqual(['service created', expect.stringMatching(/^revision 1 created/)]);
    expect((await client.events('web', { after: events.events[0]?.id })).events).toHaveLength(1);
    expect(await client.logs('web', { tail: 5, streams: 1 })).toEqual({ logs: [] });

    expect(await client.deleteService('web')).toEqual({ name: 'web', status: 'DRAINING' });
  });

  it("rebuilds the server's errors with their status, code and message", async () => {
    const missing = await caught(client.getService('nope'));
    expect(missing).toBeInstanceOf(BerthApiError);
    expect(missing).toMatchObject({ status: 404, code: 'BERTH_SERVICE_NOT_FOUND', message: "Service 'nope' not found" });

    const invalid = await caught(client.updateService('nope', VALID_DEFINITION));
    expect(invalid).toMatchObject({ status: 404 });

    await client.createService('web');
    const taken = await caught(client.createService('web'));
    expect(taken).toMatchObject({ status: 405, code: 'BERTH_SERVICE_EXISTS' });

    const badDefinition = await caught(client.updateService('web', { ...VALID_DEFINITION, 'memory-limit': 1 }));
    expect(badDefinition).toMatchObject({ status: 400, code: 'BERTH_INVALID_DEFINITION' });

    const wrongToken = new BerthClient({ url: client['base'], token: 'wrong' });
    expect(await caught(wrongToken.listServices())).toMatchObject({ status: 403, code: 'BERTH_TOKEN_INVALID', message: 'Token validation failed' });
  });

  it('waits for a deployment, reporting its steps and new events in order, and answers the final document', async () => {
    await client.createService('web');
    const service = h.store.services.find('exp', 'web');
    if (!service) throw new Error('service missing');
    const { deployment } = await client.updateService('web', VALID_DEFINITION);
    const walking = walk(h, service.id, deployment, ['starting', 'health-wait', 'switching', 'draining', 'stopping', 'succeeded']);
    const seen: DeploymentProgress[] = [];
    const final = await client.waitForDeployment('web', deployment, { pollIntervalMs: 10, onProgress: (p) => seen.push(p) });
    await walking;
    expect(final).toMatchObject({ id: deployment, step: 'succeeded', finished: true });

    const steps = seen.flatMap((p) => (p.kind === 'step' ? [p.deployment.step] : []));
    expect(steps[0]).toBe('pending');
    expect(steps.at(-1)).toBe('succeeded');
    expect(new Set(steps).size).toBe(steps.length); // each step once
    const messages = seen.flatMap((p) => (p.kind === 'event' ? [p.event.message] : []));
    // "service created" came before the deployment and is not part of it
    expect(messages[0]).toMatch(/^revision 1 created/);
    expect(messages.slice(1)).toEqual(['now starting', 'now health-wait', 'now switching', 'now draining', 'now stopping', 'now succeeded']);
  });

  it('gives up waiting after timeoutMs, and stops when the caller aborts', async () => {
    await client.createService('web');
    const { deployment } = await client.updateService('web', VALID_DEFINITION);
    const timedOut = await caught(client.waitForDeployment('web', deployment, { pollIntervalMs: 10, timeoutMs: 100 }));
    expect(timedOut).toBeInstanceOf(BerthTimeoutError);
    expect((timedOut as Error).message).toMatch(/still at step 'pending'/);

    const stop = new AbortController();
    const waiting = client.waitForDeployment('web', deployment, { pollIntervalMs: 10, signal: stop.signal });
    stop.abort(new Error('user stopped'));
    expect(await caught(waiting)).toMatchObject({ message: 'user stopped' });
  });

  it('reads the NDJSON log stream of the real route', async () => {
    await client.createService('web');
    h.observer.streams = [{ taskName: 'web-1a2b', createdAt: 0, lines: [{ time: new Date(0), message: 'hello' }] }];
    const lines: LogLine[] = [];
    await client.followLogs('web', { tail: 5, signal: new AbortController().signal, onLine: (l) => lines.push(l) });
    expect(lines).toEqual([{ stream_name: 'web-1a2b', time: '1970-01-01T00:00:00.000Z', message: 'hello' }]);
  });
});

/** Stands in for the reconciler: moves the deployment through `steps`, with an event each. */
async function walk(h: Harness, serviceId: number, deploymentId: number, steps: DeploymentStep[]): Promise<void> {
  for (const step of steps) {
    await sleep(25);
    const current = h.store.deployments.get(deploymentId);
    if (!current) throw new Error('deployment vanished');
    h.store.transaction(() => {
      if (step === 'rolling-back') h.store.deployments.rollBack(current, 'failed', 'tasks never became healthy');
      else h.store.deployments.advance(current, step);
      h.store.events.add(serviceId, `now ${step}`, deploymentId);
    });
  }
}

describe('BerthClient error mapping', () => {
  it('derives a code from the status when the server sends only {"Error"} (servicectl)', async () => {
    const { url } = await fake((_req, res) => res.writeHead(403, { 'content-type': 'application/json' }).end('{"Error":"Token validation failed"}'));
    const error = await caught(new BerthClient({ url, token: 't' }).listServices());
    expect(error).toBeInstanceOf(BerthApiError);
    expect(error).toMatchObject({ status: 403, code: 'BERTH_TOKEN_INVALID', message: 'Token validation failed' });
  });

  it('reports a non-JSON error page by its status line', async () => {
    const { url } = await fake((_req, res) => res.writeHead(502, { 'content-type': 'text/html' }).end('<html>bad gateway</html>'));
    const error = await caught(new BerthClient({ url, token: 't' }).listServices());
    expect(error).toMatchObject({ status: 502, code: 'BERTH_UNAVAILABLE' });
    expect((error as Error).message).toMatch(/^HTTP 502 Bad Gateway: <html>bad gateway<\/html>/);
  });

  it('refuses a success answer that is not JSON', async () => {
    const { url } = await fake((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html>login page</html>'));
    const error = await caught(new BerthClient({ url, token: 't' }).listServices());
    expect(error).toBeInstanceOf(BerthResponseError);
    expect(error).toMatchObject({ code: 'BERTH_BAD_RESPONSE' });
  });

  it('tells an unreachable server apart from an error answer', async () => {
    const { url, server } = await serve(() => undefined);
    await new Promise((resolve) => server.close(resolve));
    const error = await caught(new BerthClient({ url, token: 't' }).listServices());
    expect(error).toBeInstanceOf(BerthUnreachableError);
    expect(error).toMatchObject({ code: 'BERTH_UNREACHABLE' });
    expect((error as Error).message).toMatch(/ECONNREFUSED/);
  });

  it('bounds a request that never answers', async () => {
    const { url } = await fake(() => undefined);
    const started = Date.now();
    const error = await caught(new BerthClient({ url, token: 't', timeoutMs: 150 }).listServices());
    expect(error).toBeInstanceOf(BerthTimeoutError);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('sends the token, JSON bodies and query strings, and escapes names', async () => {
    const seen: { url?: string; token?: string; type?: string; body?: string }[] = [];
    const { url } = await fake((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        seen.push({ url: req.url, token: req.headers['x-auth-token'] as string, type: req.headers['content-type'], body });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    const client = new BerthClient({ url: `${url}///`, token: 'tok' });
    await client.logs('a b', { tail: 3 });
    await client.createProject('exp');
    expect(seen[0]).toMatchObject({ url: '/services/a%20b?view=logs&tail=3', token: 'tok', body: '' });
    expect(seen[0]?.type).toBeUndefined();
    expect(seen[1]).toMatchObject({ url: '/projects', type: 'application/json', body: '{"name":"exp"}' });
  });
});

describe('BerthClient.followLogs', () => {
  function ndjsonServer(write: (res: ServerResponse) => void): Promise<{ url: string; requests: string[] }> {
    return fake((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      write(res);
    });
  }

  it('calls onLine per line, also when lines are split across chunks, until the signal aborts', async () => {
    const { url, requests } = await ndjsonServer((res) => {
      res.write('{"stream_name":"web-1","time":"t1","message":"one"}\n{"stream_name":"web-1",');
      setTimeout(() => res.write('"time":"t2","message":"two"}\n\n'), 20);
      setTimeout(() => res.write('{"stream_name":"web-2","time":"t3","message":"three ü"}\n'), 40);
    });
    const stop = new AbortController();
    const lines: LogLine[] = [];
    await new BerthClient({ url, token: 't' }).followLogs('web', {
      tail: 7,
      signal: stop.signal,
      onLine: (line) => {
        lines.push(line);
        if (lines.length === 3) stop.abort();
      },
    });
    expect(requests).toEqual(['GET /services/web/logs/stream?tail=7']);
    expect(lines.map((l) => `${l.stream_name} ${l.time} ${l.message}`)).toEqual(['web-1 t1 one', 'web-1 t2 two', 'web-2 t3 three ü']);
  });

  it('resolves when the server ends the stream, without the signal aborted', async () => {
    const { url } = await ndjsonServer((res) => res.end('{"stream_name":"a","time":"t","message":"last"}'));
    const stop = new AbortController();
    const lines: LogLine[] = [];
    await new BerthClient({ url, token: 't' }).followLogs('web', { signal: stop.signal, onLine: (l) => lines.push(l) });
    expect(stop.signal.aborted).toBe(false);
    expect(lines.map((l) => l.message)).toEqual(['last']);
  });

  it('fails on a line that is not a log line, and on an error answer', async () => {
    const { url } = await ndjsonServer((res) => res.end('{"nope":1}\n'));
    const error = await caught(new BerthClient({ url, token: 't' }).followLogs('web', { signal: new AbortController().signal, onLine: () => undefined }));
    expect(error).toBeInstanceOf(BerthResponseError);

    const missing = await fake((_req, res) => res.writeHead(404, { 'content-type': 'application/json' }).end('{"Error":"No route","code":"BERTH_ROUTE_NOT_FOUND"}'));
    const notFound = await caught(new BerthClient({ url: missing.url, token: 't' }).followLogs('web', { signal: new AbortController().signal, onLine: () => undefined }));
    expect(notFound).toMatchObject({ status: 404, code: 'BERTH_ROUTE_NOT_FOUND' });
  });

  it('lets what onLine throws through unchanged', async () => {
    const { url } = await ndjsonServer((res) => res.write('{"stream_name":"a","time":"t","message":"m"}\n'));
    const mine = new Error('mine');
    const error = await caught(
      new BerthClient({ url, token: 't' }).followLogs('web', {
        signal: new AbortController().signal,
        onLine: () => {
          throw mine;
        },
      }),
    );
    expect(error).toBe(mine);
  });

  it('reports a connection lost mid-stream as unreachable', async () => {
    const { url } = await ndjsonServer((res) => {
      res.write('{"stream_name":"a","time":"t","message":"m"}\n');
      setTimeout(() => res.destroy(), 50);
    });
    const error = await caught(new BerthClient({ url, token: 't' }).followLogs('web', { signal: new AbortController().signal, onLine: () => undefined }));
    expect(error).toBeInstanceOf(BerthUnreachableError);
  });

  it('bounds the wait for the answer, but not the open stream', async () => {
    const silent = await fake(() => undefined);
    const error = await caught(new BerthClient({ url: silent.url, token: 't', timeoutMs: 150 }).followLogs('web', { signal: new AbortController().signal, onLine: () => undefined }));
    expect(error).toBeInstanceOf(BerthTimeoutError);

    // Headers at once, then quiet for longer than timeoutMs: still following.
    const { url } = await ndjsonServer((res) => {
      res.flushHeaders();
      setTimeout(() => res.write('{"stream_name":"a","time":"t","message":"late"}\n'), 400);
    });
    const stop = new AbortController();
    const lines: string[] = [];
    await new BerthClient({ url, token: 't', timeoutMs: 150 }).followLogs('web', {
      signal: stop.signal,
      onLine: (l) => {
        lines.push(l.message);
        stop.abort();
      },
    });
    expect(lines).toEqual(['late']);
  });
});
