import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import { Agent, request } from 'node:https';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NginxGateway } from '../../src/gateway/nginx-gateway.js';
import { describeChain, splitPem } from '../../src/tls/pem.js';
import { waitFor } from '../support/docker-harness.js';
import { httpsGet, servedCertificate } from '../support/tls-client.js';

// Ports 19070-19073: plain HTTP, admin, HTTPS, the echo target.
const HTTP_PORT = 19070;
const ADMIN_PORT = 19071;
const TLS_PORT = 19072;
const ECHO_PORT = 19073;
const DOMAIN = 'apps.test';

const dir = mkdtempSync(join(tmpdir(), 'berth-gw-tls-'));
let gateway: NginxGateway;
let echo: Server;

/** A self-signed certificate for the names, with a new key each time, as key + chain PEM. */
function certificate(...names: string[]): string {
  const key = join(dir, 'key.pem');
  const cert = join(dir, 'cert.pem');
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', `/CN=${names[0]}`, '-addext', `subjectAltName=${names.map((n) => `DNS:${n}`).join(',')}`],
    { stdio: 'ignore' },
  );
  return `${readFileSync(cert, 'utf8')}${readFileSync(key, 'utf8')}`;
}

beforeAll(async () => {
  echo = await startEcho();
  gateway = new NginxGateway({
    dataDir: join(dir, 'nginx'),
    listenHost: '127.0.0.1',
    listenPort: HTTP_PORT,
    adminPort: ADMIN_PORT,
    publicDomain: DOMAIN,
    tls: { listenHost: '127.0.0.1', listenPort: TLS_PORT, redirectPort: TLS_PORT, acmeChallenges: true },
  });
  await gateway.prepare();
  await gateway.serveCertificate('_default', certificate(DOMAIN));
  await gateway.serveCertificate(`t-echo.${DOMAIN}`, certificate(`t-echo.${DOMAIN}`));
  await gateway.start();
  await gateway.setRoutes([{ prefix: '/t-echo', targets: [{ host: '127.0.0.1', port: ECHO_PORT }] }]);
});

afterAll(async () => {
  await gateway?.stop();
  echo?.closeAllConnections();
  await new Promise<void>((resolve) => (echo ? echo.close(() => resolve()) : resolve()));
  rmSync(dir, { recursive: true, force: true });
});

interface Seen {
  url: string;
  headers: IncomingHttpHeaders;
  bodyLength: number;
}

const seen = (body: string): Seen => JSON.parse(body) as Seen;

describe('the gateway over TLS', () => {
  it('gives each handshake the certificate of the name it asks for, else the default one', async () => {
    expect((await servedCertificate(TLS_PORT, `t-echo.${DOMAIN}`)).names).toEqual([`t-echo.${DOMAIN}`]);
    expect((await servedCertificate(TLS_PORT, `T-ECHO.${DOMAIN.toUpperCase()}`)).names).toEqual([`t-echo.${DOMAIN}`]);
    for (const other of ['unknown.test', '..', null]) expect((await servedCertificate(TLS_PORT, other)).names).toEqual([DOMAIN]);
  });

  it('routes <service>.<domain> by its host with the path unchanged, and every other host by its path', async () => {
    const cases: [host: string, path: string, status: number, url?: string][] = [
      [`t-echo.${DOMAIN}`, '/x?y=1', 200, '/x?y=1'],
      [`T-Echo.${DOMAIN.toUpperCase()}:${TLS_PORT}`, '/', 200, '/'],
      [`t-echo.${DOMAIN}.`, '/a/b', 200, '/a/b'],
      // The whole host is the service's: no path prefix to stay under.
      [`t-echo.${DOMAIN}`, '/t-other/../x', 200, '/t-other/../x'],
      [`a.t-echo.${DOMAIN}`, '/x', 404],
      [`nope.${DOMAIN}`, '/t-echo/x', 404],
      [DOMAIN, '/t-echo/z', 200, '/t-echo/z'],
      ['elsewhere.test', '/t-echo/z', 200, '/t-echo/z'],
      ['elsewhere.test', '/x', 404],
      [DOMAIN, '/t-echo/../t-other/x', 400],
    ];
    for (const [host, path, status, url] of cases) {
      const reply = await httpsGet({ port: TLS_PORT, servername: `t-echo.${DOMAIN}`, host, path });
      expect(reply.status, `${host} ${path}`).toBe(status);
      if (url !== undefined) expect(seen(reply.body).url, `${host} ${path}`).toBe(url);
    }
  });

  it('redirects plain HTTP to HTTPS, and answers ACME challenges from the files berth writes', async () => {
    const redirect = await plainGet('/t-echo/a?b=c', `t-echo.${DOMAIN}:${HTTP_PORT}`);
    expect(redirect.status).toBe(308);
    expect(redirect.headers.location).toBe(`https://t-echo.${DOMAIN}:${TLS_PORT}/t-echo/a?b=c`);
    const token = 'A0b1C2d3E4f5G6h7I8j9_-Kk';
    await gateway.putChallenge(token, `${token}.thumbprint`);
    const answer = await plainGet(`/.well-known/acme-challenge/${token}`, 'any.test');
    expect(answer).toMatchObject({ status: 200, body: `${token}.thumbprint` });
    await gateway.removeChallenge(token);
    expect((await plainGet(`/.well-known/acme-challenge/${token}`, 'any.test')).status).toBe(404);
  });

  it('streams request bodies, sets X-Forwarded-Proto https, and passes websocket upgrades, as plain HTTP does', async () => {
    const reply = await httpsGet({ port: TLS_PORT, servername: DOMAIN, path: '/t-echo/upload', method: 'POST', body: 'x'.repeat(300_000) });
    expect(reply.status).toBe(200);
    expect(seen(reply.body)).toMatchObject({ url: '/t-echo/upload', bodyLength: 300_000 });
    expect(seen(reply.body).headers['x-forwarded-proto']).toBe('https');

    const streamed = await httpsGet({ port: TLS_PORT, servername: DOMAIN, path: '/t-echo/stream' });
    expect(streamed.body).toBe('one\ntwo\nthree\n');

    for (const host of [DOMAIN, `t-echo.${DOMAIN}`]) {
      const socket = await upgrade(host === DOMAIN ? '/t-echo/ws' : '/ws', host);
      try {
        const answered = new Promise<string>((resolve) => socket.once('data', (data: Buffer) => resolve(data.toString())));
        socket.write('ping over tls');
        expect(await answered).toBe('ping over tls');
      } finally {
        socket.destroy();
      }
    }
  });

  it('serves a new certificate, with a new key, from the next handshake on, failing no request under keep-alive load', async () => {
    const name = `t-echo.${DOMAIN}`;
    const agent = new Agent({ keepAlive: true, maxSockets: 8 });
    const failures: string[] = [];
    const serials = new Set<string>();
    let requests = 0;
    let stop = false;
    const keepAlive = async (): Promise<void> => {
      while (!stop) {
        try {
          const reply = await httpsGet({ port: TLS_PORT, servername: name, path: '/x', agent });
          if (reply.status !== 200) failures.push(`${reply.status}`);
        } catch (error) {
          failures.push(String(error));
        }
        requests += 1;
      }
    };
    const handshakes = async (): Promise<void> => {
      while (!stop) {
        try {
          serials.add((await servedCertificate(TLS_PORT, name)).serial);
        } catch (error) {
          failures.push(`handshake: ${String(error)}`);
        }
      }
    };
    const load = Promise.all([...Array.from({ length: 6 }, () => keepAlive()), handshakes(), handshakes()]);
    try {
      for (let i = 0; i < 15; i += 1) {
        const pem = certificate(name);
        await gateway.serveCertificate(name, pem);
        const serial = describeChain(splitPem(pem).chain).serial;
        await waitFor('a handshake with the new certificate', async () => serials.has(serial), 10_000, 5);
      }
    } finally {
      stop = true;
      await load;
      agent.destroy();
    }
    expect(failures).toEqual([]);
    expect(serials.size).toBeGreaterThanOrEqual(15);
    expect(requests).toBeGreaterThan(100);
  }, 60_000);
});

/** Answers what it received as JSON; /stream answers three lines a moment apart; echoes bytes back after an Upgrade. */
async function startEcho(): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.url?.endsWith('/stream')) {
      res.write('one\n');
      setTimeout(() => res.write('two\n'), 50);
      setTimeout(() => res.end('three\n'), 100);
      return;
    }
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
  await new Promise<void>((resolve) => server.listen(ECHO_PORT, '127.0.0.1', resolve));
  return server;
}

function plainGet(path: string, host: string): Promise<{ status: number; body: string; headers: IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: HTTP_PORT, path, headers: { host }, agent: false, timeout: 5_000 }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('timeout', () => req.destroy(new Error(`${path} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

function upgrade(path: string, host: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1',
      port: TLS_PORT,
      servername: host,
      path,
      agent: false,
      rejectUnauthorized: false,
      timeout: 5_000,
      headers: { host, Connection: 'Upgrade', Upgrade: 'websocket' },
    });
    req.on('upgrade', (_res, socket) => resolve(socket));
    req.on('response', (res) => reject(new Error(`no upgrade: ${res.statusCode}`)));
    req.on('timeout', () => req.destroy(new Error('upgrade timed out')));
    req.on('error', reject);
    req.end();
  });
}
