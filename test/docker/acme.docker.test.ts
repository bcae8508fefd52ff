import { readdirSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { Agent } from 'node:https';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient, definition, startTestServer, waitFor, waitForDeployment, type TestServer } from '../support/docker-harness.js';
import { Pebble } from '../support/pebble.js';
import { httpsGet, servedCertificate } from '../support/tls-client.js';

// Ports 19020-19024 (berth: API, gateway, admin, registry, HTTPS) and 19030-19034 (pebble).
const BASE_PORT = 19020;
const HTTP_PORT = BASE_PORT + 1;
const TLS_PORT = BASE_PORT + 4;
const PUBLIC_HOST = 'berth.test';
const DOMAIN = 'apps.test';
const SERVICE_HOST = `p-web.${DOMAIN}`;
/** Short, so that a real renewal (at two thirds) comes within the test. */
const VALIDITY_SECONDS = 45;

let pebble: Pebble;
let server: TestServer;
let api: ApiClient;
let root: string;

interface CertDoc {
  host: string;
  issuer: string | null;
  names: string[];
  not_before: string | null;
  expires_at: string | null;
  renew_at: string | null;
  failures: number;
  last_error: { code: string; message: string } | null;
  renewing: boolean;
}

async function certs(): Promise<CertDoc[]> {
  const res = await server.api.call('GET', '/certs');
  expect(res.status).toBe(200);
  return res.json.certificates as CertDoc[];
}

async function certOf(host: string): Promise<CertDoc | undefined> {
  return (await certs()).find((c) => c.host === host);
}

/** A plain HTTP request to the gateway with the Host given (fetch does not let one set it). */
function httpGet(path: string, host: string): Promise<{ status: number; location: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: HTTP_PORT, path, headers: { host }, agent: false, timeout: 5_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, location: res.headers.location }));
    });
    req.on('timeout', () => req.destroy(new Error(`${path} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  pebble = await Pebble.start({ basePort: 19030, httpPort: HTTP_PORT, validitySeconds: VALIDITY_SECONDS });
  server = await startTestServer({
    basePort: BASE_PORT,
    extra: {
      publicUrl: `https://${PUBLIC_HOST}:${TLS_PORT}`,
      publicDomain: DOMAIN,
      tls: 'acme',
      gatewayTlsListen: `127.0.0.1:${TLS_PORT}`,
      acmeDirectory: pebble.directoryUrl,
      acmeEmail: 'ops@berth.test',
      acmeCaFile: pebble.caFile,
    },
  });
  root = await pebble.root();
  api = await server.api.project('p');
}, 60_000);

afterAll(async () => {
  await server?.destroy();
  await pebble?.stop();
});

describe('certificates from an ACME server', () => {
  it('gets one for the public host at start and serves HTTPS with it; plain HTTP redirects there, except challenges', async () => {
    const doc = await waitFor('a certificate for the public host', async () => (await certOf(PUBLIC_HOST))?.issuer ? certOf(PUBLIC_HOST) : null, 60_000);
    expect(doc).toMatchObject({ names: [PUBLIC_HOST], failures: 0, last_error: null });
    // A valid chain to pebble's root, for the name asked.
    const served = await servedCertificate(TLS_PORT, PUBLIC_HOST, root);
    expect(served.names).toEqual([PUBLIC_HOST]);
    // A client without SNI (or with an unknown name) gets the public host's.
    expect((await servedCertificate(TLS_PORT, null)).serial).toBe(served.serial);

    const plain = await httpGet(`/p-web/x?y=1`, `${PUBLIC_HOST}:${HTTP_PORT}`);
    expect(plain.status).toBe(308);
    expect(plain.location).toBe(`https://${PUBLIC_HOST}:${TLS_PORT}/p-web/x?y=1`);
    expect((await httpGet('/', `${SERVICE_HOST}:${HTTP_PORT}`)).location).toBe(`https://${SERVICE_HOST}:${TLS_PORT}/`);
    expect((await httpGet('/.well-known/acme-challenge/unknown-token-0123456789', PUBLIC_HOST)).status).toBe(404);

    // Stored under the data dir, the user's alone.
    const dir = join(server.dataDir, 'tls');
    expect(readdirSync(join(dir, 'certs'))).toContain(`${PUBLIC_HOST}.pem`);
    for (const file of ['account.pem', `certs/${PUBLIC_HOST}.pem`]) expect(statSync(join(dir, file)).mode & 0o077).toBe(0);
  });

  it('serves a deployed service by path and at its own host, with its own certificate, the app seeing the path unchanged', async () => {
    await api.call('POST', '/services', { name: 'web' });
    const put = await api.call('PUT', '/services/web', definition({ command: ['sh', '-c', 'echo root-page > /www/index.html; exec serve'] }));
    expect(put.status).toBe(200);
    expect((await waitForDeployment(api, 'web', put.json.deployment)).step).toBe('succeeded');

    const byPath = await httpsGet({ port: TLS_PORT, servername: PUBLIC_HOST, path: '/p-web/', ca: root });
    expect(byPath.status).toBe(200);
    expect(byPath.body).toMatch(/^hello from /);

    const doc = await waitFor('a certificate for the service host', async () => ((await certOf(SERVICE_HOST))?.issuer ? certOf(SERVICE_HOST) : null), 60_000);
    expect(doc?.names).toEqual([SERVICE_HOST]);
    const served = await servedCertificate(TLS_PORT, SERVICE_HOST, root);
    expect(served.names).toEqual([SERVICE_HOST]);
    const byHost = await httpsGet({ port: TLS_PORT, servername: SERVICE_HOST, path: '/', ca: root });
    expect(byHost.status).toBe(200);
    expect(byHost.body).toBe('root-page\n');
    expect((await httpsGet({ port: TLS_PORT, servername: SERVICE_HOST, path: '/p-web/', ca: root })).body).toMatch(/^hello from /);
    // Another project's address is not reached through this host.
    expect((await httpsGet({ port: TLS_PORT, servername: `q-web.${DOMAIN}`, path: '/', ca: undefined })).status).toBe(404);
  });

  it('renews a certificate once two thirds of its lifetime passed, under keep-alive load, failing no request', async () => {
    const before = await servedCertificate(TLS_PORT, PUBLIC_HOST, root);
    const renewAt = Date.parse((await certOf(PUBLIC_HOST))?.renew_at ?? '');
    const agent = new Agent({ keepAlive: true, maxSockets: 8 });
    const failures: string[] = [];
    const serials = new Set<string>([before.serial]);
    let requests = 0;
    let stop = false;
    const keepAlive = async (): Promise<void> => {
      while (!stop) {
        try {
          const reply = await httpsGet({ port: TLS_PORT, servername: PUBLIC_HOST, path: '/p-web/', agent, ca: root });
          if (reply.status !== 200) failures.push(`${reply.status} ${reply.body}`);
        } catch (error) {
          failures.push(String(error));
        }
        requests += 1;
      }
    };
    const handshakes = async (): Promise<void> => {
      while (!stop) {
        try {
          serials.add((await servedCertificate(TLS_PORT, PUBLIC_HOST, root)).serial);
        } catch (error) {
          failures.push(`handshake: ${String(error)}`);
        }
      }
    };
    const load = Promise.all([...Array.from({ length: 6 }, () => keepAlive()), handshakes()]);
    let renewedAt = 0;
    try {
      await waitFor('a renewed certificate', async () => serials.size > 1, (VALIDITY_SECONDS + 30) * 1000, 200);
      renewedAt = Date.now();
      const settle = requests + 500;
      await waitFor('more requests after the renewal', async () => requests >= settle, 30_000, 50);
    } finally {
      stop = true;
      await load;
      agent.destroy();
    }
    expect(failures).toEqual([]);
    expect(requests).toBeGreaterThan(500);
    const after = await servedCertificate(TLS_PORT, PUBLIC_HOST, root);
    expect(after.serial).not.toBe(before.serial);
    expect(renewedAt).toBeGreaterThanOrEqual(renewAt);
    expect(after.validTo).toBeGreaterThan(before.validTo);
  }, 120_000);

  it('keeps serving the previous certificate when a challenge fails, and says why in certs ls and the service events', async () => {
    // The ACME server now looks for the service host at an address where nothing answers.
    await pebble.setAddress(SERVICE_HOST, ['127.0.0.2']);
    // Certificates last 45 s here: a renewal under way may still land; any later one fails.
    await waitFor('no renewal under way', async () => (await certOf(SERVICE_HOST))?.renewing === false, 60_000, 50);
    const before = await servedCertificate(TLS_PORT, SERVICE_HOST, root);
    try {
      const res = await server.api.call('POST', `/certs/${SERVICE_HOST}/renew`);
      expect(res.status).toBe(502);
      expect(res.json.code).toBe('BERTH_ACME_CHALLENGE_FAILED');
      expect(res.json.Error).toMatch(/127\.0\.0\.2/);
      const doc = await certOf(SERVICE_HOST);
      expect(doc?.failures).toBeGreaterThanOrEqual(1);
      expect(doc?.last_error).toEqual({ code: 'BERTH_ACME_CHALLENGE_FAILED', message: res.json.Error });
      const served = await servedCertificate(TLS_PORT, SERVICE_HOST, root);
      expect(served.serial).toBe(before.serial);
      expect((await httpsGet({ port: TLS_PORT, servername: SERVICE_HOST, path: '/', ca: root })).body).toBe('root-page\n');
      const events = (await api.status('web')).events as { message: string }[];
      expect(events.some((e) => e.message.includes(`renewing the certificate for ${SERVICE_HOST} failed: BERTH_ACME_CHALLENGE_FAILED`))).toBe(true);
    } finally {
      await pebble.setAddress(SERVICE_HOST, null);
    }
    const renewed = await server.api.call('POST', `/certs/${SERVICE_HOST}/renew`);
    expect(renewed.status).toBe(200);
    expect(renewed.json).toMatchObject({ host: SERVICE_HOST, failures: 0, last_error: null });
    expect((await servedCertificate(TLS_PORT, SERVICE_HOST, root)).serial).not.toBe(before.serial);
  }, 120_000);

  it('refuses the certificate endpoints to a project token, and answers 404 for a host it holds none for', async () => {
    expect((await api.call('GET', '/certs')).status).toBe(403);
    expect((await api.call('POST', `/certs/${PUBLIC_HOST}/renew`)).status).toBe(403);
    expect((await server.api.call('POST', '/certs/nothing.test/renew')).status).toBe(404);
  });

  it('serves the stored certificates at once after a server restart, and after nginx is killed', async () => {
    const before = await servedCertificate(TLS_PORT, SERVICE_HOST, root);
    const publicBefore = await servedCertificate(TLS_PORT, PUBLIC_HOST, root);
    await server.restart();
    expect((await servedCertificate(TLS_PORT, SERVICE_HOST, root)).serial).toBe(before.serial);
    const pid = server.server.gateway.pid();
    process.kill(pid ?? 0, 'SIGKILL');
    await waitFor('nginx to be restarted', async () => server.server.gateway.pid() !== pid && server.server.gateway.pid() !== null, 10_000, 50);
    const after = await waitFor('a handshake with the restarted nginx', async () => servedCertificate(TLS_PORT, PUBLIC_HOST, root), 10_000, 50);
    // Either the stored one, or one renewed meanwhile (they last 45 s here), never none.
    expect(after.names).toEqual([PUBLIC_HOST]);
    expect(after.validTo).toBeGreaterThanOrEqual(publicBefore.validTo);
  }, 60_000);
});
