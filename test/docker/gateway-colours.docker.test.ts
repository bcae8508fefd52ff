import { mkdtemp, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer, type Agent, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Route, Target } from '../../src/gateway/gateway.js';
import { defaultWorkerDir, NginxGateway } from '../../src/gateway/nginx-gateway.js';
import { httpRequest, type HttpReply } from '../support/http.js';
import { KeepAliveLoad } from '../support/keepalive-load.js';

// Ports 19110-19119 belong to this file.
const LISTEN_PORT = 19110;
const ADMIN_PORT = 19111;
const HOST_LISTEN_PORT = 19112;
const HOST_ADMIN_PORT = 19113;
const BLUE_PORT = 19114;
const GREEN_PORT = 19115;
const OTHER_PORT = 19116;

const blue: Target = { host: '127.0.0.1', port: BLUE_PORT };
const green: Target = { host: '127.0.0.1', port: GREEN_PORT };
const other: Target = { host: '127.0.0.1', port: OTHER_PORT };

let dataDir: string;
let hostDataDir: string;
let gateway: NginxGateway;
let hostGateway: NginxGateway;
const servers: Server[] = [];

/** The table of a service `nmpi` with two colours, `live` the one its route serves, and a service without colours. */
function table(live: 'blue' | 'green', colours: { blue?: Target[]; green?: Target[] } = {}): Route[] {
  const targets = { blue: colours.blue ?? [blue], green: colours.green ?? [green] };
  return [
    { prefix: '/col-nmpi', targets: targets[live], colours: [{ colour: 'blue', targets: targets.blue }, { colour: 'green', targets: targets.green }] },
    { prefix: '/col-web', targets: [other] },
  ];
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'berth-gwc-'));
  hostDataDir = await mkdtemp(join(tmpdir(), 'berth-gwc-host-'));
  for (const [name, port] of [['blue', BLUE_PORT], ['green', GREEN_PORT], ['other', OTHER_PORT]] as const) servers.push(await namedServer(name, port));
  gateway = new NginxGateway({ dataDir, listenHost: '127.0.0.1', listenPort: LISTEN_PORT, adminPort: ADMIN_PORT });
  hostGateway = new NginxGateway({ dataDir: hostDataDir, listenHost: '127.0.0.1', listenPort: HOST_LISTEN_PORT, adminPort: HOST_ADMIN_PORT, publicDomain: 'apps.test' });
  await Promise.all([gateway.start(), hostGateway.start()]);
});

afterAll(async () => {
  await Promise.all([gateway?.stop(), hostGateway?.stop()]);
  for (const server of servers) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  for (const dir of [dataDir, hostDataDir]) if (dir) await rm(dir, { recursive: true, force: true });
});

describe('colours in the gateway’s module', () => {
  it('serves the live colour, and any colour named by header or cookie, at the same address and path', async () => {
    await gateway.setRoutes(table('blue'));
    expect(await get('/col-nmpi/x')).toEqual({ status: 200, body: 'blue /col-nmpi/x' });
    expect(await get('/col-nmpi/x', { 'X-Berth-Colour': 'green' })).toEqual({ status: 200, body: 'green /col-nmpi/x' });
    expect(await get('/col-nmpi/x', { Cookie: 'session=1; berth_colour=green' })).toEqual({ status: 200, body: 'green /col-nmpi/x' });
    // The header wins over the cookie; naming the live colour is the same as naming none.
    expect((await get('/col-nmpi/', { 'X-Berth-Colour': 'blue', Cookie: 'berth_colour=green' })).body).toBe('blue /col-nmpi/');
    expect(await readFile(join(defaultWorkerDir(dataDir), 'routes', 'current'), 'utf8')).toBe(
      `#berth-routes 2\n/col-nmpi 127.0.0.1:${BLUE_PORT}\n/col-nmpi/blue 127.0.0.1:${BLUE_PORT}\n/col-nmpi/green 127.0.0.1:${GREEN_PORT}\n/col-web 127.0.0.1:${OTHER_PORT}\n`,
    );
  });

  it('serves the live colour to a colour it does not have or a value that is no colour, and serves services without colours as ever', async () => {
    await gateway.setRoutes(table('blue'));
    for (const value of ['purple', 'Green', 'gr een', 'green/x', 'x'.repeat(17), '']) {
      expect((await get('/col-nmpi/', { 'X-Berth-Colour': value })).body, value).toBe('blue /col-nmpi/');
    }
    // The cookie goes to every service on the host; one without colours ignores it.
    expect((await get('/col-web/', { Cookie: 'berth_colour=green' })).body).toBe('other /col-web/');
    expect((await get('/col-web/', { 'X-Berth-Colour': 'green' })).body).toBe('other /col-web/');
  });

  it('never lets a path pick a colour', async () => {
    await gateway.setRoutes(table('blue'));
    // The key is the first segment: /col-nmpi/green is a path of the live colour, as the app sees it.
    expect(await get('/col-nmpi/green/x')).toEqual({ status: 200, body: 'blue /col-nmpi/green/x' });
    expect((await get('/col-nmpi%2Fgreen/x')).status).toBe(400);
  });

  it('answers 503 for a colour named that has no healthy task, not another colour', async () => {
    await gateway.setRoutes(table('blue', { green: [] }));
    expect((await get('/col-nmpi/', { 'X-Berth-Colour': 'green' })).status).toBe(503);
    expect((await get('/col-nmpi/')).body).toBe('blue /col-nmpi/');
  });

  it('strips only the route’s prefix from the path of a request that names a colour', async () => {
    // Colours are not offered for stack services, which alone strip; the module keeps both apart all the same.
    const colours = [{ colour: 'blue', targets: [blue] }, { colour: 'green', targets: [green] }];
    // The other routes stay: a worker that loads no table after this one still serves them as the tests after expect.
    await gateway.setRoutes([...table('blue'), { prefix: '/col-ui', targets: [blue], stripPrefix: true, colours }]);
    expect((await get('/col-ui/login?x=1')).body).toBe('blue /login?x=1');
    expect((await get('/col-ui/login', { 'X-Berth-Colour': 'green' })).body).toBe('green /login');
    expect((await get('/col-ui', { Cookie: 'berth_colour=green' })).body).toBe('green /');
  });

  it('picks colours on host routes too', async () => {
    await hostGateway.setRoutes(table('green'));
    const host = { Host: 'col-nmpi.apps.test' };
    expect((await get('/x', host, HOST_LISTEN_PORT)).body).toBe('green /x');
    expect((await get('/x', { ...host, 'X-Berth-Colour': 'blue' }, HOST_LISTEN_PORT)).body).toBe('blue /x');
  });

  it('refuses a table of a format it does not read, and keeps the previous one', async () => {
    await gateway.setRoutes(table('blue'));
    const dir = join(defaultWorkerDir(dataDir), 'routes');
    await writeFile(join(dir, 'table.future'), `#berth-routes 3\n/col-nmpi 127.0.0.1:${GREEN_PORT}\n`);
    await symlink('table.future', join(dir, 'current.new'));
    await rename(join(dir, 'current.new'), join(dir, 'current'));
    await vi.waitFor(
      async () => {
        expect((await get('/col-nmpi/')).body).toBe('blue /col-nmpi/');
        expect(await readFile(join(dataDir, 'logs', 'error.log'), 'utf8')).toMatch(/is of a format this module does not read: "#berth-routes 3"/);
      },
      { timeout: 5_000, interval: 20 },
    );
    // A colour key in a format-1 table is refused the same way.
    await writeFile(join(dir, 'table.old'), `/col-nmpi 127.0.0.1:${GREEN_PORT}\n/col-nmpi/green 127.0.0.1:${GREEN_PORT}\n`);
    await symlink('table.old', join(dir, 'current.new'));
    await rename(join(dir, 'current.new'), join(dir, 'current'));
    await vi.waitFor(
      async () => {
        expect((await get('/col-nmpi/')).body).toBe('blue /col-nmpi/');
        expect(await readFile(join(dataDir, 'logs', 'error.log'), 'utf8')).toMatch(/table\.old" line 2: the prefix must be '\/' and one path segment\n/);
      },
      { timeout: 5_000, interval: 20 },
    );
  });

  it('counts a request that names a colour for its route, in the gateway’s route metrics', async () => {
    await gateway.setRoutes(table('blue'));
    const before = await counted();
    await get('/col-nmpi/', { 'X-Berth-Colour': 'green' });
    await get('/col-nmpi/', { Cookie: 'berth_colour=blue' });
    await get('/col-nmpi/');
    // A colour named on a route without colours is no reason to leave the request uncounted.
    await get('/col-web/', { Cookie: 'berth_colour=green' });
    const after = await counted();
    expect((after.get('/col-nmpi') ?? 0) - (before.get('/col-nmpi') ?? 0)).toBe(3);
    expect((after.get('/col-web') ?? 0) - (before.get('/col-web') ?? 0)).toBe(1);
    expect([...after.keys()].filter((prefix) => prefix.split('/').length > 2)).toEqual([]);
  });

  it('switches the live colour back and forth under keep-alive load without failing a request', async () => {
    await gateway.setRoutes(table('blue'));
    const load = new KeepAliveLoad(LISTEN_PORT, '/col-nmpi/');
    let live: 'blue' | 'green' = 'blue';
    try {
      for (let i = 0; i < 10; i++) {
        await load.more(100);
        live = live === 'blue' ? 'green' : 'blue';
        await gateway.setRoutes(table(live));
        const switched = performance.now();
        await load.more(100);
        // Every request sent once the table is written goes to the colour switched to.
        expect(load.sentSince(switched).filter((r) => !r.body.startsWith(`${live} `))).toEqual([]);
      }
    } finally {
      await load.stop();
    }
    expect(load.failures).toEqual([]);
    expect(load.replies.length).toBeGreaterThan(2_000);
  });
});

/** 2xx answers the gateway counted of each route. */
async function counted(): Promise<Map<string, number>> {
  return new Map((await gateway.routeMetrics()).routes.map((r) => [r.prefix, r.byClass[1]]));
}

function namedServer(name: string, port: number): Promise<Server> {
  const server = createServer((req, res) => res.end(`${name} ${req.url}`));
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)));
}

function get(path: string, headers: Record<string, string> = {}, port = LISTEN_PORT, agent: Agent | false = false): Promise<HttpReply> {
  return httpRequest(port, path, { headers, agent });
}
