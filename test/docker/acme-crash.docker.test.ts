import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultWorkerDir } from '../../src/gateway/nginx-gateway.js';
import { describeChain, keyMatches, splitPem } from '../../src/tls/pem.js';
import { waitFor } from '../support/docker-harness.js';
import { Pebble } from '../support/pebble.js';
import { ServerProcess } from '../support/server-process.js';
import { servedCertificate } from '../support/tls-client.js';

// Ports 19050-19054 (berth: API, gateway, admin, registry, HTTPS) and 19060-19064 (pebble).
const BASE_PORT = 19050;
const TLS_PORT = BASE_PORT + 4;
const HOST = 'crash.test';

let pebble: Pebble;
const dataDir = mkdtempSync(join(tmpdir(), 'berth-acme-crash-'));
const server = new ServerProcess(dataDir, BASE_PORT);

beforeAll(async () => {
  pebble = await Pebble.start({ basePort: 19060, httpPort: BASE_PORT + 1, validitySeconds: 3600 });
  server.extraEnv = {
    BERTH_TLS: 'acme',
    BERTH_PUBLIC_URL: `https://${HOST}:${TLS_PORT}`,
    BERTH_GATEWAY_TLS_LISTEN: `127.0.0.1:${TLS_PORT}`,
    BERTH_ACME_DIRECTORY: pebble.directoryUrl,
    BERTH_ACME_EMAIL: 'ops@crash.test',
    BERTH_ACME_CA_FILE: pebble.caFile,
  };
}, 60_000);

afterAll(async () => {
  await server.destroy(null);
  await pebble?.stop();
});

const stored = (): string[] => readdirSync(join(dataDir, 'tls', 'certs'));
const served = (): string[] => readdirSync(join(defaultWorkerDir(join(dataDir, 'nginx')), 'certs'));

describe('kill -9 while a certificate is issued', () => {
  it('leaves no key or certificate behind when the certificate was only in memory', async () => {
    server.extraEnv.BERTH_FAULT_POINT = 'certificate:issued';
    await server.start();
    expect(await server.exited(60_000)).toBe('SIGKILL');
    expect(stored()).toEqual([]);
    expect(served()).toEqual([]);
    // No half-served certificate either: the handshake fails, rather than use something else.
    await expect(servedCertificate(TLS_PORT, HOST)).rejects.toThrow();
  });

  it('serves the stored one at the next start, whole, when the kill came after it was stored', async () => {
    server.extraEnv.BERTH_FAULT_POINT = 'certificate:stored';
    await server.start();
    expect(await server.exited(60_000)).toBe('SIGKILL');
    expect(stored()).toEqual([`${HOST}.pem`]);
    const pem = splitPem(readFileSync(join(dataDir, 'tls', 'certs', `${HOST}.pem`), 'utf8'));
    expect(keyMatches(pem.chain, pem.key)).toBe(true);

    delete server.extraEnv.BERTH_FAULT_POINT;
    await server.start();
    // Served as the server starts, before any new issuance (this one is valid for an hour).
    const handshake = await waitFor('a handshake', async () => servedCertificate(TLS_PORT, HOST, await pebble.root()), 10_000, 50);
    expect(handshake.serial.toLowerCase()).toBe(describeChain(pem.chain).serial.toLowerCase());
    expect(served().filter((name) => name.endsWith('.tmp'))).toEqual([]);
    const list = await server.api.call('GET', '/certs');
    expect(list.json.certificates[0]).toMatchObject({ host: HOST, failures: 0, renewing: false });
  });
});
