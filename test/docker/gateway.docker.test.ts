import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { readdirSync, readFileSync } from 'node:fs';
import { Agent, createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { GatewayConfigRejectedError, GatewayReloadError } from '../../src/gateway/errors.js';
import type { Route, Target } from '../../src/gateway/gateway.js';
import { defaultWorkerDir, NginxGateway, type NginxGatewayOptions } from '../../src/gateway/nginx-gateway.js';
import { httpRequest, type HttpOptions, type HttpReply } from '../support/http.js';

const run = promisify(execFile);

const IMAGE = 'berth-test/gateway-busybox:1';
const LABEL = 'io.berth.test=gateway';
const LISTEN_PORT = 18101;
const ADMIN_PORT = 18102;
const ECHO_PORT = 18103;
const OTHER_LISTEN_PORT = 18104;
const BUSY_PORT = 18105;
const ECHO_V6_PORT = 18106;

let dataDir: string;
let gateway: NginxGateway;
let echo: Server;
let targetA: Target;
let targetB: Target;
let containerA: string;
const echoTarget: Target = { host: '127.0.0.1', port: ECHO_PORT };

function gatewayOptions(overrides: Partial<NginxGatewayOptions> = {}): NginxGatewayOptions {
  return { dataDir, listenHost: '127.0.0.1', listenPort: LISTEN_PORT, adminPort: ADMIN_PORT, ...overrides };
}

beforeAll(async () => {
  await buildImage();
  dataDir = await mkdtemp(join(tmpdir(), 'berth-gw-'));
  [containerA, targetA] = await startTarget('A');
  [, targetB] = await startTarget('B');
  echo = await startEcho('127.0.0.1', ECHO_PORT);
  gateway = new NginxGateway(gatewayOptions());
  await gateway.start();
});

afterAll(async () => {
  await gateway?.stop();
  echo?.closeAllConnections();
  await new Promise<void>((resolve) => (echo ? echo.close(() => resolve()) : resolve()));
  const { stdout } = await run('docker', ['ps', '-aq', '--filter', `label=${LABEL}`]);
  const leftovers = stdout.split('\n').filter(Boolean);
  if (leftovers.length > 0) await run('docker', ['rm', '-f', ...leftovers]);
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
  expect(nginxMastersUsing(dataDir ?? '')).toEqual([]);
});

describe('NginxGateway', () => {
  it('routes by the first path segment and passes the path on unchanged', async () => {
    await gateway.setRoutes([{ prefix: '/t-web', targets: [targetA] }]);
    const reply = await get('/t-web/id');
    expect(reply.status).toBe(200);
    expect(reply.body).toBe('A\n');
    // The table nginx reads, for an operator to look at.
    expect(await readFile(join(defaultWorkerDir(dataDir), 'routes', 'current'), 'utf8')).toBe(`/t-web ${targetA.host}:${targetA.port}\n`);
  });

  it('serves a route that strips its prefix with the path below it, and every other route unchanged', async () => {
    await gateway.setRoutes([
      { prefix: '/t-ui', targets: [echoTarget], stripPrefix: true },
      { prefix: '/t-api', targets: [echoTarget] },
    ]);
    const url = async (path: string) => (JSON.parse((await get(path)).body) as { url: string }).url;
    expect(await url('/t-ui/login?next=%2Fhome')).toBe('/login?next=%2Fhome');
    expect(await url('/t-ui')).toBe('/');
    expect(await url('/t-ui?x=1')).toBe('/?x=1');
    expect(await url('/t-ui/a%20b/c')).toBe('/a%20b/c');
    expect(await url('/t-api/login?next=%2Fhome')).toBe('/t-api/login?next=%2Fhome');
    // Climbing out of the prefix is refused before anything is stripped.
    expect((await get('/t-ui/../t-api/x')).status).toBe(400);
    expect(await readFile(join(defaultWorkerDir(dataDir), 'routes', 'current'), 'utf8')).toBe(`/t-ui strip 127.0.0.1:${ECHO_PORT}\n/t-api 127.0.0.1:${ECHO_PORT}\n`);
  });

  it('routes to IPv6 targets', async () => {
    const v6 = await startEcho('::1', ECHO_V6_PORT);
    try {
      await gateway.setRoutes([{ prefix: '/t-six', targets: [{ host: '::1', port: ECHO_V6_PORT }] }]);
      const reply = await get('/t-six/x');
      expect(reply.status).toBe(200);
      expect((JSON.parse(reply.body) as { url: string }).url).toBe('/t-six/x');
    } finally {
      v6.closeAllConnections();
      await new Promise<void>((resolve) => v6.close(() => resolve()));
    }
  });

  it('leaves out a route nginx could not route by and serves every other one', async () => {
    await gateway.setRoutes([{ prefix: '/t-web', targets: [targetA] }]);
    const bad: Route[] = [
      { prefix: '/t web', targets: [] },
      { prefix: '/t-other/x', targets: [] },
      { prefix: '/t-other', targets: [{ host: 'example.org', port: 80 }] },
      { prefix: '/t-other', targets: [{ host: targetA.host, port: 0 }] },
      // A second route for a prefix an earlier one holds: the earlier one keeps it.
      { prefix: '/t-web', targets: [targetB] },
    ];
    for (const route of bad) {
      const rejected = await gateway.setRoutes([{ prefix: '/t-web', targets: [targetA] }, route]);
      expect(rejected, JSON.stringify(route)).toEqual([expect.objectContaining({ index: 1, prefix: route.prefix })]);
      expect((await get('/t-web/id')).body, JSON.stringify(route)).toBe('A\n');
    }
  });

  it('keeps routing by the previous table when the table file it is pointed at is damaged', async () => {
    await gateway.setRoutes([{ prefix: '/t-web', targets: [targetA] }]);
    // A worker falls back on the table it loaded; new workers load one as they start.
    await restartWorkers();
    const dir = join(defaultWorkerDir(dataDir), 'routes');
    await writeFile(join(dir, 'table.damaged'), '/t-web 999.1.2.3:80\n');
    await symlink('table.damaged', join(dir, 'current.new'));
    await rename(join(dir, 'current.new'), join(dir, 'current'));
    // Workers look at the table when requests come; each of them logs what it refused.
    await vi.waitFor(
      async () => {
        expect((await get('/t-web/id')).body).toBe('A\n');
        expect(await readFile(join(dataDir, 'logs', 'error.log'), 'utf8')).toMatch(/999\.1\.2\.3:80.*is not an address/);
      },
      { timeout: 5_000, interval: 20 },
    );
    expect((await get('/t-web/id')).body).toBe('A\n');
    await gateway.setRoutes([{ prefix: '/t-web', targets: [targetB] }]);
    expect((await get('/t-web/id')).body).toBe('B\n');
  });

  it('answers 404 for an unknown prefix, including one that only starts like a known one', async () => {
    await gateway.setRoutes([{ prefix: '/t-web', targets: [targetA] }]);
    for (const path of ['/nope/id', '/t-webx/id', '/']) {
      const reply = await get(path);
      expect(reply.status, path).toBe(404);
      expect(reply.body).toBe('no service is deployed at this path\n');
    }
  });

  it('answers 503 for a known prefix without a healthy target', async () => {
    await gateway.setRoutes([{ prefix: '/t-web', targets: [targetA] }, { prefix: '/t-down', targets: [] }]);
    const reply = await get('/t-down/id');
    expect(reply.status).toBe(503);
    expect(reply.body).toBe('no healthy task for this service\n');
  });

  it('sets X-Forwarded-* headers, streams request bodies and passes websocket upgrades', async () => {
    await gateway.setRoutes([{ prefix: '/t-echo', targets: [echoTarget] }]);
    const reply = await get('/t-echo/some/path?q=1', { method: 'POST', body: 'x'.repeat(100_000) });
    expect(reply.status).toBe(200);
    const seen = JSON.parse(reply.body) as { url: string; headers: IncomingHttpHeaders; bodyLength: number };
    expect(seen.url).toBe('/t-echo/some/path?q=1');
    expect(seen.bodyLength).toBe(100_000);
    expect(seen.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(seen.headers['x-forwarded-proto']).toBe('http');
    expect(seen.headers['x-forwarded-host']).toBe(`127.0.0.1:${LISTEN_PORT}`);
    expect(seen.headers.host).toBe(`127.0.0.1:${LISTEN_PORT}`);

    const socket = await upgrade('/t-echo/ws');
    try {
      const answered = new Promise<string>((resolve) => socket.once('data', (data: Buffer) => resolve(data.toString())));
      socket.write('ping');
      expect(await answered).toBe('ping');
    } finally {
      socket.destroy();
    }
  });

  it('sets the client address itself, whatever a client claims about earlier hops', async () => {
    await gateway.setRoutes([{ prefix: '/t-echo', targets: [echoTarget] }]);
    const reply = await get('/t-echo/x', { headers: { 'x-forwarded-for': '6.6.6.6', forwarded: 'for=6.6.6.6', 'x-real-ip': '6.6.6.6' } });
    const seen = JSON.parse(reply.body) as { headers: IncomingHttpHeaders };
    expect(seen.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(seen.headers['x-real-ip']).toBe('127.0.0.1');
    expect(seen.headers.forwarded).toBeUndefined();
  });

  it('refuses a path that names one service but would reach another, and passes on one that stays under its own', async () => {
    await gateway.setRoutes([
      { prefix: '/t-web', targets: [targetA] },
      { prefix: '/t-echo', targets: [echoTarget] },
    ]);
    for (const path of ['/t-web/../t-echo/x', '/t-web%2F..%2Ft-echo/x', '/t-web/..%2Ft-echo/x', '/t-web/%2E%2E/t-echo/x', '/t-%77eb/id', '//t-echo/x']) {
      const reply = await get(path);
      expect(reply.status, path).toBe(400);
      expect(reply.body, path).toBe('the path does not stay under the service it names\n');
    }
    const inside = await get('/t-echo/a/../b?c=/../t-web');
    expect(inside.status).toBe(200);
    expect((JSON.parse(inside.body) as { url: string }).url).toBe('/t-echo/a/../b?c=/../t-web');
  });

  it('runs its workers as an unprivileged user who cannot read the data dir', async () => {
    const workers = scanProc().filter((p) => p.ppid === gateway.pid() && p.cmdline.startsWith('nginx: worker process'));
    expect(workers.length).toBeGreaterThan(0);
    for (const worker of workers) {
      const uid = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${worker.pid}/status`, 'utf8'))?.[1];
      expect(uid).toBe(String((await run('id', ['-u', 'www-data'])).stdout.trim()));
    }
    // What they do read: the table, through its group.
    const table = join(defaultWorkerDir(dataDir), 'routes', 'current');
    const read = await run('su', ['-s', '/bin/sh', 'www-data', '-c', `cat ${table} >/dev/null && echo table-ok; ls ${dataDir} 2>&1 || true`]);
    expect(read.stdout).toMatch(/^table-ok\nls: cannot open directory/);
  });

  it('balances across the targets of a route', async () => {
    await gateway.setRoutes([{ prefix: '/t-web', targets: [targetA, targetB] }]);
    const bodies = new Set<string>();
    for (let i = 0; i < 20; i += 1) bodies.add((await get('/t-web/id')).body);
    expect([...bodies].sort()).toEqual(['A\n', 'B\n']);
  });

  it('retries a refused request on each of the other targets, even under concurrent load', async () => {
    const refusing = (target: Target): Target => ({ host: target.host, port: 81 });
    await gateway.setRoutes([{ prefix: '/t-web', targets: [refusing(targetA), refusing(targetB), targetB] }]);
    const statuses: number[] = [];
    const worker = async (): Promise<void> => {
      while (statuses.length < 600) statuses.push((await get('/t-web/id')).status);
    };
    await Promise.all(Array.from({ length: 16 }, () => worker()));
    expect(statuses.filter((status) => status !== 200)).toEqual([]);
  });

  it('switches targets under keep-alive load, then loses the old target, without failing a request', async () => {
    await gateway.setRoutes([{ prefix: '/t-web', targets: [targetA] }]);
    const agent = new Agent({ keepAlive: true, maxSockets: 8 });
    const bodies: string[] = [];
    const sentAfterSwitch: string[] = [];
    const failures: string[] = [];
    const total = 2_000;
    let issued = 0;
    let switched = false;
    const worker = async (): Promise<void> => {
      while (issued < total) {
        issued += 1;
        const afterSwitch = switched;
        try {
          const reply = await get('/t-web/id', { agent });
          if (reply.status !== 200) failures.push(`${reply.status} ${reply.body}`);
          bodies.push(reply.body.trim());
          if (afterSwitch) sentAfterSwitch.push(reply.body.trim());
        } catch (error) {
          failures.push(String(error));
        }
      }
    };
    const load = Promise.all(Array.from({ length: 8 }, () => worker()));
    try {
      await vi.waitFor(() => expect(bodies.length).toBeGreaterThanOrEqual(400), { timeout: 30_000 });
      await gateway.setRoutes([{ prefix: '/t-web', targets: [targetB] }]);
      switched = true;
      await vi.waitFor(() => expect(sentAfterSwitch.length).toBeGreaterThanOrEqual(300), { timeout: 30_000 });
      await run('docker', ['rm', '-f', containerA]);
      await load;
      expect(failures).toEqual([]);
      expect(bodies).toHaveLength(total);
      expect(bodies.slice(0, 300).every((body) => body === 'A')).toBe(true);
      // Requests in flight at the switch may still have gone to A; every later one went to B.
      expect(sentAfterSwitch.length).toBeGreaterThan(1_000);
      expect(sentAfterSwitch.every((body) => body === 'B')).toBe(true);
    } finally {
      agent.destroy();
    }
  });

  it('restarts nginx killed with SIGKILL, and the new nginx serves the last table', async () => {
    await gateway.setRoutes([{ prefix: '/t-web', targets: [targetB] }]);
    const pid = gateway.pid();
    expect(pid).not.toBeNull();
    process.kill(pid ?? 0, 'SIGKILL');
    const started = Date.now();
    await vi.waitFor(
      async () => {
        expect(gateway.pid()).not.toBe(pid);
        const reply = await get('/t-web/id');
        expect(reply.body).toBe('B\n');
      },
      { timeout: 5_000, interval: 50 },
    );
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(nginxMastersUsing(dataDir)).toEqual([gateway.pid()]);
  });

  it('keeps the previous config file and a serving nginx when a new config fails nginx -t', async () => {
    const configFile = join(dataDir, 'nginx.conf');
    const before = await readFile(configFile, 'utf8');
    const pid = gateway.pid();
    const broken = new NginxGateway(gatewayOptions({ listenHost: '999.0.0.1' }));
    const error: unknown = await broken.start().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(GatewayConfigRejectedError);
    expect(String(error)).toMatch(/999\.0\.0\.1/);
    expect(await readFile(configFile, 'utf8')).toBe(before);
    expect((await readdir(dataDir)).filter((name) => name.endsWith('.tmp'))).toEqual([]);
    expect(gateway.pid()).toBe(pid);
    expect((await get('/t-web/id')).body).toBe('B\n');
  });

  it('lets nginx serve on while berth is detached, and a new gateway adopts it without a reload', async () => {
    const pid = gateway.pid();
    const workers = childrenOf(pid ?? 0);
    await gateway.detach();
    await expect(gateway.setRoutes([])).rejects.toThrow(/stopped or detached/);
    expect((await get('/t-web/id')).body).toBe('B\n');

    gateway = new NginxGateway(gatewayOptions());
    await gateway.start();
    expect(gateway.pid()).toBe(pid);
    expect(childrenOf(pid ?? 0)).toEqual(workers);
    // Until berth sets routes, the adopted nginx keeps the table it had.
    expect((await get('/t-web/id')).body).toBe('B\n');
    await gateway.setRoutes([{ prefix: '/t-other', targets: [targetB] }]);
    expect((await get('/t-other/id')).status).toBe(404); // B serves /www/t-web only
    expect((await get('/t-web/id')).status).toBe(404);
  });

  it('reloads an adopted nginx whose config changed, keeping its pid and its table', async () => {
    await gateway.setRoutes([{ prefix: '/t-web', targets: [targetB] }]);
    const pid = gateway.pid();
    const workers = childrenOf(pid ?? 0);
    await gateway.detach();

    gateway = new NginxGateway(gatewayOptions({ listenPort: OTHER_LISTEN_PORT }));
    await gateway.start();
    expect(gateway.pid()).toBe(pid);
    expect(childrenOf(pid ?? 0)).not.toEqual(workers);
    expect((await get('/t-web/id', { port: OTHER_LISTEN_PORT })).body).toBe('B\n');
  });

  it('puts the previous config file back when nginx does not take the new one on reload', async () => {
    const configFile = join(dataDir, 'nginx.conf');
    const before = await readFile(configFile, 'utf8');
    const pid = gateway.pid();
    await gateway.detach();
    // nginx -t does not bind, so a port taken by someone else only fails the reload.
    const squatter = createServer();
    await new Promise<void>((resolve) => squatter.listen(BUSY_PORT, '127.0.0.1', resolve));
    try {
      const moved = new NginxGateway(gatewayOptions({ listenPort: BUSY_PORT }));
      const error: unknown = await moved.start().catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(GatewayReloadError);
      expect(await readFile(configFile, 'utf8')).toBe(before);
      expect(moved.pid()).toBeNull();
    } finally {
      await new Promise<void>((resolve) => squatter.close(() => resolve()));
    }
    gateway = new NginxGateway(gatewayOptions({ listenPort: OTHER_LISTEN_PORT }));
    await gateway.start();
    expect(gateway.pid()).toBe(pid);
    expect((await get('/t-web/id', { port: OTHER_LISTEN_PORT })).body).toBe('B\n');
  });

  it('replaces an nginx that died while berth was away, even though its workers live on', async () => {
    const pid = gateway.pid();
    const workers = childrenOf(pid ?? 0);
    await gateway.detach();
    process.kill(pid ?? 0, 'SIGKILL');
    // The orphaned workers still hold the listening sockets and serve the old table.
    expect((await get('/t-web/id', { port: OTHER_LISTEN_PORT })).body).toBe('B\n');

    gateway = new NginxGateway(gatewayOptions());
    await gateway.start();
    expect(gateway.pid()).not.toBe(pid);
    expect(workers.filter((worker) => scanProc().some((p) => p.pid === worker))).toEqual([]);
    // The new nginx reads the table berth last set before berth sets one.
    expect((await get('/t-web/id')).body).toBe('B\n');
    await gateway.setRoutes([]);
    expect((await get('/t-web/id')).status).toBe(404);
    expect(nginxMastersUsing(dataDir)).toEqual([gateway.pid()]);
  });
});

type Reply = HttpReply;

function get(path: string, options: HttpOptions & { port?: number } = {}): Promise<Reply> {
  return httpRequest(options.port ?? LISTEN_PORT, path, options);
}

function upgrade(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1',
      port: LISTEN_PORT,
      path,
      agent: false,
      timeout: 5_000,
      headers: { Connection: 'Upgrade', Upgrade: 'websocket' },
    });
    req.on('upgrade', (_res, socket) => resolve(socket));
    req.on('response', (res) => reject(new Error(`no upgrade: ${res.statusCode}`)));
    req.on('timeout', () => req.destroy(new Error('upgrade timed out')));
    req.on('error', reject);
    req.end();
  });
}

/** Answers what it received as JSON; echoes bytes back after an Upgrade. */
async function startEcho(host: string, port: number): Promise<Server> {
  const server = createServer((req, res) => {
    let bodyLength = 0;
    req.on('data', (chunk: Buffer) => (bodyLength += chunk.length));
    req.on('end', () => {
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify({ url: req.url, headers: req.headers, bodyLength }));
    });
  });
  server.on('upgrade', (_req, socket: Socket) => {
    socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    socket.pipe(socket);
  });
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  return server;
}

async function buildImage(): Promise<void> {
  const exists = await run('docker', ['image', 'inspect', IMAGE]).then(
    () => true,
    () => false,
  );
  if (exists) return;
  const root = await mkdtemp(join(tmpdir(), 'berth-gw-rootfs-'));
  try {
    await mkdir(join(root, 'bin'));
    await copyFile('/usr/bin/busybox', join(root, 'bin', 'busybox'));
    await run('sh', ['-c', `tar -C '${root}' -c . | docker import - ${IMAGE}`], { timeout: 60_000 });
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

/** A busybox httpd container serving /www/t-web/id with the given body. */
async function startTarget(body: string): Promise<[string, Target]> {
  const script = `/bin/busybox mkdir -p /www/t-web && echo ${body} > /www/t-web/id && exec /bin/busybox httpd -f -p 80 -h /www`;
  const { stdout } = await run('docker', ['run', '-d', '--label', LABEL, IMAGE, '/bin/busybox', 'sh', '-c', script]);
  const id = stdout.trim();
  const { stdout: ip } = await run('docker', ['inspect', '-f', '{{.NetworkSettings.IPAddress}}', id]);
  const target = { host: ip.trim(), port: 80 };
  await vi.waitFor(
    async () => {
      const reply = await getFrom(target, '/t-web/id');
      expect(reply.status).toBe(200);
    },
    { timeout: 10_000, interval: 100 },
  );
  return [id, target];
}

function getFrom(target: Target, path: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: target.host, port: target.port, path, agent: false, timeout: 1_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: '' }));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

/** Replaces nginx's workers (a reload with the same config) and waits for the new ones. */
async function restartWorkers(): Promise<void> {
  const pid = gateway.pid() ?? 0;
  const before = childrenOf(pid);
  process.kill(pid, 'SIGHUP');
  await vi.waitFor(
    () => {
      const now = childrenOf(pid);
      expect(now.length).toBe(before.length);
      expect(now.filter((worker) => before.includes(worker))).toEqual([]);
    },
    { timeout: 5_000, interval: 20 },
  );
}

/** Live processes whose parent is pid, sorted. */
function childrenOf(pid: number): number[] {
  return scanProc()
    .filter((p) => p.ppid === pid)
    .map((p) => p.pid)
    .sort((a, b) => a - b);
}

/** Live nginx masters started with a config under dir. */
function nginxMastersUsing(dir: string): number[] {
  return scanProc()
    .filter((p) => p.cmdline.startsWith('nginx: master process') && p.cmdline.includes(dir))
    .map((p) => p.pid);
}

function scanProc(): { pid: number; ppid: number; cmdline: string }[] {
  const found: { pid: number; ppid: number; cmdline: string }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (fields[0] === 'Z') continue;
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ');
      found.push({ pid: Number(entry), ppid: Number(fields[1]), cmdline });
    } catch {
      // The process ended between listing /proc and reading it.
      continue;
    }
  }
  return found;
}
