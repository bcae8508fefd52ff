import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ADMIN_TOKEN,
  ApiClient,
  DEMO_IMAGE,
  definition,
  docker,
  dockerAsync,
  instanceContainers,
  startTestServer,
  waitFor,
  waitForDeployment,
  type TestServer,
} from '../support/docker-harness.js';

// Ports 17900-17919 belong to this file. Every case is tried as a hostile tenant would.
let t: TestServer;
let alpha: ApiClient;
let beta: ApiClient;
let dataDir: string;
const dockerConfig = mkdtempSync(join(tmpdir(), 'berth-docker-config-'));
const pushed: string[] = [];
let alphaImage: string;

beforeAll(async () => {
  // A data dir an operator made world-readable, holding a file an older berth wrote 0644.
  dataDir = mkdtempSync(join(tmpdir(), 'berth-it-iso-'));
  chmodSync(dataDir, 0o755);
  mkdirSync(join(dataDir, 'old'), { mode: 0o755 });
  writeFileSync(join(dataDir, 'old', 'note'), 'x', { mode: 0o644 });
  chmodSync(join(dataDir, 'old', 'note'), 0o644);
  // As `berth server` runs in production: with the admin token in its environment.
  process.env.BERTH_ADMIN_TOKEN = ADMIN_TOKEN;
  try {
    t = await startTestServer({ basePort: 17900, memoryCapacity: '2000' }, {}, dataDir);
  } finally {
    delete process.env.BERTH_ADMIN_TOKEN;
  }
  alpha = await t.api.project('alpha');
  beta = await t.api.project('beta');
  // alpha pushes a private image and deploys it by tag, so the engine holds it.
  expect((await alpha.call('POST', '/services', { name: 'web' })).status).toBe(201);
  const creds = (await alpha.call('GET', '/services/web?view=docker')).json;
  await dockerAsync(['--config', dockerConfig, 'login', '-u', creds.user, '--password-stdin', creds.proxy_endpoint], creds.password);
  alphaImage = `${creds.repo_uri}:v1`;
  execFileSync('docker', ['tag', DEMO_IMAGE, alphaImage]);
  pushed.push(alphaImage);
  await dockerAsync(['--config', dockerConfig, 'push', alphaImage]);
  // Pushing tags the local copy too; berth must pull it as alpha to deploy it.
  const res = await alpha.call('PUT', '/services/web', { ...definition(), image: undefined, 'container-tag': 'v1' });
  expect((await waitForDeployment(alpha, 'web', res.json.deployment)).step).toBe('succeeded');
  expect((await beta.call('POST', '/services', { name: 'db' })).status).toBe(201);
});

afterAll(async () => {
  for (const ref of pushed) execFileSync('docker', ['rmi', '-f', ref], { stdio: 'ignore' });
  await t?.destroy();
  rmSync(dockerConfig, { recursive: true, force: true });
});

function ipOf(container: string): string {
  const networks = JSON.parse(docker('inspect', '-f', '{{json .NetworkSettings.Networks}}', container)) as Record<string, { IPAddress: string }>;
  return Object.values(networks)[0]?.IPAddress ?? '';
}

describe('images', () => {
  it('refuses another project’s image on berth’s registry, under any spelling, though the engine holds it', async () => {
    expect(docker('image', 'inspect', '-f', '{{.Id}}', alphaImage)).toMatch(/^sha256:/);
    const [address, rest] = [alphaImage.slice(0, alphaImage.indexOf('/')), alphaImage.slice(alphaImage.indexOf('/'))];
    const port = address.split(':')[1];
    const digest = docker('image', 'inspect', '-f', '{{index .RepoDigests 0}}', alphaImage).split('@')[1];
    for (const image of [alphaImage, `localhost:${port}${rest}`, `${address}/alpha/web@${digest}`]) {
      const res = await beta.call('PUT', '/services/db', definition({ image, command: ['ls', '-R', '/www'] }));
      expect(res.status, image).toBe(400);
      expect(res.json.code, image).toBe('BERTH_IMAGE_NOT_OWNED');
    }
    const id = docker('image', 'inspect', '-f', '{{.Id}}', alphaImage);
    expect((await beta.call('PUT', '/services/db', definition({ image: id }))).status).toBe(400);
  });

  it('never runs an image found by an id prefix instead of its name', async () => {
    const shortId = docker('image', 'inspect', '-f', '{{.Id}}', alphaImage).slice('sha256:'.length, 'sha256:'.length + 12);
    const res = await beta.call('PUT', '/services/db', definition({ image: shortId, command: ['ls', '-R', '/www'] }));
    expect(res.status).toBe(200);
    const done = await waitForDeployment(beta, 'db', res.json.deployment);
    expect(done.step).toBe('failed');
    expect(done.reason).toContain(`image ${shortId} is not available`);
    expect(instanceContainers(t.server.instance, 'label=io.berth.project=beta')).toEqual([]);
    const logs = (await beta.call('GET', '/services/db?view=logs')).json;
    expect(JSON.stringify(logs)).not.toContain('alpha-web');
  });
});

describe('names and paths', () => {
  it('refuses a service whose address another project’s service already has', async () => {
    const a = await t.api.project('pa');
    const ab = await t.api.project('pa-b');
    expect((await a.call('POST', '/services', { name: 'b-c' })).status).toBe(201);
    const taken = await ab.call('POST', '/services', { name: 'c' });
    expect(taken.status).toBe(405);
    expect(taken.json.Error).toContain('/pa-b-c');
  });

  it('answers 400 to a path that names alpha’s service but would reach beta’s', async () => {
    const res = await beta.call('PUT', '/services/db', definition({ environment: [{ name: 'GREETING', value: 'beta' }] }));
    expect((await waitForDeployment(beta, 'db', res.json.deployment)).step).toBe('succeeded');
    await waitFor('beta served', async () => (await (await fetch(`${t.gatewayUrl}/beta-db/`)).text()).startsWith('beta from'));
    for (const path of ['/alpha-web/../beta-db/', '/alpha-web%2F..%2Fbeta-db/']) {
      const answer = await rawGet(17901, path);
      expect(answer, path).toMatch(/^HTTP\/1\.1 400 /);
    }
  });
});

describe('tasks', () => {
  it('keeps a task of one project from opening a connection to another project’s task', async () => {
    const [alphaTask] = instanceContainers(t.server.instance, 'label=io.berth.project=alpha');
    const [betaTask] = instanceContainers(t.server.instance, 'label=io.berth.project=beta');
    const target = ipOf(alphaTask as string);
    expect(target).not.toBe('');
    // The host (the gateway) reaches it…
    expect(await (await fetch(`http://${target}/alpha-web/`)).text()).toMatch(/^hello from/);
    // …beta's task does not: its packets to alpha's bridge are dropped (the gateway is the way across).
    const tries = `timeout 3 wget -qO- http://${target}/alpha-web/ && echo REACHED; echo done`;
    expect(docker('exec', betaTask as string, 'sh', '-c', tries)).toBe('done');
    // What it does reach: its own project's network, where its own address answers.
    const own = ipOf(betaTask as string);
    expect(docker('exec', betaTask as string, 'sh', '-c', `timeout 3 wget -qO- http://${own}/beta-db/`)).toMatch(/^beta from/);
  });
});

describe('project networks', () => {
  it('makes one network for a project whose services all start at once', async () => {
    const crowd = await t.api.project('crowd');
    const names = ['s1', 's2', 's3', 's4', 's5', 's6'];
    const deployments = await Promise.all(
      names.map(async (name) => {
        expect((await crowd.call('POST', '/services', { name })).status).toBe(201);
        return (await crowd.call('PUT', `/services/${name}`, definition())).json.deployment as number;
      }),
    );
    for (const [i, id] of deployments.entries()) expect((await waitForDeployment(crowd, names[i] as string, id)).step).toBe('succeeded');
    const networks = docker('network', 'ls', '-q', '--filter', `label=io.berth.instance=${t.server.instance}`, '--filter', 'label=io.berth.project=crowd');
    expect(networks.split('\n').filter(Boolean)).toHaveLength(1);
  });
});

describe('the server’s own files and children', () => {
  it('makes the data dir and what is in it its own user’s alone', () => {
    expect(statSync(dataDir).mode & 0o777).toBe(0o700);
    expect(statSync(join(dataDir, 'old')).mode & 0o777).toBe(0o700);
    expect(statSync(join(dataDir, 'old', 'note')).mode & 0o777).toBe(0o600);
    for (const name of readdirSync(dataDir).filter((n) => n.startsWith('berth.db') || n === 'audit.log' || n === 'server.pid')) {
      expect(statSync(join(dataDir, name)).mode & 0o777, name).toBe(0o600);
    }
  });

  it('passes the admin token to neither nginx nor the registry', () => {
    const registry = readFileSync(`/proc/${t.server.registry.pid()}/environ`, 'utf8');
    expect(registry.split('\0').filter(Boolean).map((v) => v.split('=')[0])).toEqual(['PATH']);
    // nginx writes its title over its environment; what is left of it still must not hold the token.
    expect(readFileSync(`/proc/${t.server.gateway.pid()}/environ`, 'utf8')).not.toContain(ADMIN_TOKEN);
  });
});

/** A request sent as written: fetch would normalise the path before sending it. */
async function rawGet(port: number, path: string): Promise<string> {
  const { connect } = await import('node:net');
  return new Promise((resolve, reject) => {
    // Not ended: nginx takes a client's half-close for an abort and drops the request.
    const socket = connect(port, '127.0.0.1', () => socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`));
    let answer = '';
    socket.on('data', (d) => (answer += d));
    socket.on('end', () => resolve(answer));
    socket.on('error', reject);
    socket.setTimeout(5_000, () => socket.destroy(new Error(`${path} timed out`)));
  });
}
