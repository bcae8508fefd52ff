import { createConnection } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { afterPasses, ApiClient, DEMO_IMAGE, docker, startTestServer, waitFor, type TestServer } from '../support/docker-harness.js';
import { execInService } from '../../src/client/index.js';
import { berthCli, ensureRedisImage, KGE_FILES, writeProject, type CliResult } from '../support/stack-fixtures.js';

// Ports 18600-18619 belong to this file: the server takes 18600-18603, stacks publish on 18610-18619.
const HOST_PORT = 18610;
let t: TestServer;
let api: ApiClient;

const compose = (file: string | readonly string[], ...args: string[]): Promise<CliResult> =>
  berthCli(api.base, api.token, ['compose', ...(typeof file === 'string' ? [file] : file).flatMap((f) => ['-f', f]), ...args]);

function ok(result: CliResult): CliResult {
  expect(result.code, `stdout: ${result.stdout}\nstderr: ${result.stderr}`).toBe(0);
  return result;
}

async function get(path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`${t.gatewayUrl}${path}`);
  return { status: res.status, body: await res.text() };
}

/** The stack's containers, by compose service name. */
function containersOf(stack: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const lines = docker('ps', '-a', '--filter', `label=io.berth.stack=${stack}`, '--filter', `label=io.berth.instance=${t.server.instance}`, '--format', '{{.ID}} {{.Label "io.berth.service"}}');
  for (const line of lines.split('\n').filter(Boolean)) {
    const [id, service] = line.split(' ') as [string, string];
    out.set(service, [...(out.get(service) ?? []), id]);
  }
  return out;
}

function leftovers(stack: string): string[] {
  const filter = ['--filter', `label=io.berth.stack=${stack}`, '--filter', `label=io.berth.instance=${t.server.instance}`];
  return [docker('ps', '-aq', ...filter), docker('network', 'ls', '-q', ...filter), docker('volume', 'ls', '-q', ...filter)].join('\n').split('\n').filter(Boolean);
}

async function ps(stack: string): Promise<Record<string, { state: string; health: string }>> {
  const res = await api.call('GET', `/stacks/${stack}`);
  return Object.fromEntries((res.json.services as { name: string; state: string; health: string }[]).map((s) => [s.name, s]));
}

beforeAll(async () => {
  ensureRedisImage();
  t = await startTestServer({ basePort: 18600, healthTimeout: '30', extra: { hostPorts: `${HOST_PORT}-${HOST_PORT + 9}` } });
  api = await t.api.project('it-stk');
});

afterAll(async () => {
  await t?.destroy();
});

describe('a web + worker + Redis stack (KGE)', () => {
  it('builds, starts, serves through the gateway, changes only what changed, remembers a stop, and goes with down -v', async () => {
    const dir = writeProject('images', KGE_FILES);
    const file = join(dir, 'docker-compose.yml');
    const up = ok(await compose(file, 'up', '-d'));
    expect(up.stderr).toMatch(/web: create \(http:\/\/127\.0\.0\.1:18601\/it-stk-images-web\/\)/);
    expect(up.stderr).toMatch(/web: succeeded/);

    // web enqueues in Redis, the worker computes and records its progress, web reports it.
    expect(await get('/it-stk-images-web/enqueue')).toEqual({ status: 200, body: 'queued 1' });
    await waitFor('the worker to finish task 1', async () => (await get('/it-stk-images-web/progress/1')).body === 'progress done', 20_000);
    expect(await ps('images')).toMatchObject({ web: { state: 'running', health: 'healthy' }, worker: { state: 'running' }, redis: { state: 'running', health: 'healthy' } });

    // A command in a running task, its streams apart, with stdin, and its exit code.
    const shell = await compose(file, 'exec', '-T', 'web', 'sh', '-c', 'echo out; echo err >&2; exit 4');
    expect(shell).toMatchObject({ code: 4, stdout: 'out\n' });
    expect(shell.stderr).toMatch(/^err\n/);
    const piped = await berthCli(api.base, api.token, ['compose', '-f', file, 'exec', '-T', 'redis', 'redis-cli'], { input: 'get tasks\n' });
    expect(piped).toMatchObject({ code: 0, stdout: '1\n' });
    const other = await t.api.project('it-stk-exec');
    // Another project reaches no task of this one: its name is no service there.
    await expect(execInService(api.base, other.token, 'images-web', { command: ['id'], tty: false }, () => undefined)).rejects.toMatchObject({ status: 404, code: 'BERTH_SERVICE_NOT_FOUND' });

    // up again with the same files: nothing is replaced.
    const before = containersOf('images');
    const again = ok(await compose(file, 'up', '-d'));
    expect(again.stderr).toMatch(/web: unchanged[\s\S]*worker: unchanged/);
    expect(containersOf('images')).toEqual(before);

    // An override changes the worker only; the web keeps serving with its task.
    const override = join(dir, 'docker-compose.override.yml');
    writeFileSync(override, 'services:\n  worker:\n    environment:\n      GREETING: "v2"\n');
    const changed = ok(await compose([file, override], 'up', '-d'));
    expect(changed.stderr).toMatch(/worker: update/);
    expect(changed.stderr).toMatch(/web: unchanged/);
    expect(containersOf('images').get('images-web')).toEqual(before.get('images-web'));
    expect(containersOf('images').get('images-worker')).not.toEqual(before.get('images-worker'));

    // stop is remembered across a server restart; start brings it back.
    ok(await compose(file, 'stop', 'worker'));
    await waitFor('the worker to stop', async () => !containersOf('images').has('images-worker'), 20_000);
    await t.restart();
    await afterPasses(t.server, 3);
    expect(containersOf('images').has('images-worker')).toBe(false);
    expect((await ps('images')).worker?.state).toBe('stopped');
    ok(await compose(file, 'start', 'worker'));
    await waitFor('the worker to run again', async () => (await ps('images')).worker?.state === 'running', 20_000);

    // Redis keeps its data on the stack's volume across a restart of its task.
    ok(await compose(file, 'restart', 'redis'));
    await waitFor('redis to be replaced', async () => containersOf('images').get('images-redis')?.[0] !== before.get('images-redis')?.[0], 20_000);
    await waitFor('a second task to be queued', async () => (await get('/it-stk-images-web/enqueue')).body === 'queued 2', 20_000);

    const down = ok(await compose(file, 'down', '-v'));
    expect(down.stderr).toMatch(/images removed with its volumes/);
    expect(leftovers('images')).toEqual([]);
    expect((await api.call('GET', '/stacks')).json).toEqual([]);
    expect((await get('/it-stk-images-web/')).status).toBe(404);
  });
});

describe('a stack on a network made beforehand (sisock)', () => {
  it('joins the project network, starts only the services asked and their dependencies, and reaches another stack by name', async () => {
    ok(await berthCli(api.base, api.token, ['network', 'create', 'sisock-net']));
    const hub = writeProject('hub', {
      'docker-compose.yml': `services:
  sisock_crossbar:
    image: redis:alpine
    command: ["nc", "-ll", "-p", "8001", "-e", "echo", "crossbar here"]
    networks: [sisock-net]
networks:
  sisock-net: {external: true}
`,
    });
    ok(await compose(join(hub, 'docker-compose.yml'), 'up', '-d'));
    const sisock = writeProject('sisock', {
      'docker-compose.yml': `services:
  sisock-http:
    image: redis:alpine
    command: ["nc", "-ll", "-p", "8000", "-e", "sh", "/handler.sh"]
    ports: ["8000"]
    configs: [{source: handler, target: /handler.sh}]
    networks: [default, sisock-net]
    depends_on: [weather]
  weather:
    image: redis:alpine
    command: ["sleep", "3600"]
  grafana:
    image: ${DEMO_IMAGE}
    command: ["sh", "-c", "mkdir -p /www && echo grafana at its root > /www/index.html && exec httpd -f -p 3000 -h /www"]
    ports: ["3000:3000"]
    x-berth: {strip_prefix: true}
  sensors:
    image: redis:alpine
    command: ["sleep", "3600"]
configs:
  handler: {file: ./handler.sh}
networks:
  sisock-net: {external: true}
`,
      'handler.sh': `read -r request
body=$(nc sisock_crossbar 8001 </dev/null)
printf 'HTTP/1.0 200 OK\\r\\nContent-Length: %s\\r\\n\\r\\n%s' "\${#body}" "$body"
`,
    });
    const file = join(sisock, 'docker-compose.yml');
    const up = ok(await compose(file, 'up', '-d', 'grafana', 'sisock-http'));
    expect(up.stderr).toMatch(/grafana: create/);
    expect(up.stderr).not.toMatch(/sensors:/);
    expect(await ps('sisock')).toMatchObject({ sensors: { state: 'not created' }, weather: { state: 'running' }, 'sisock-http': { state: 'running' } });
    // Across stacks, over the project network they both joined.
    expect(await get('/it-stk-sisock-sisock-http/')).toEqual({ status: 200, body: 'crossbar here' });
    // Grafana without its sub-path settings: the gateway strips the prefix.
    expect(await get('/it-stk-sisock-grafana/index.html')).toEqual({ status: 200, body: 'grafana at its root\n' });

    // The network stays while a stack uses it.
    const rm = await berthCli(api.base, api.token, ['network', 'rm', 'sisock-net']);
    expect(rm.code).toBe(1);
    expect(rm.stderr).toMatch(/BERTH_RESOURCE_IN_USE: Network 'sisock-net' is used by stack (hub, sisock|sisock, hub)/);

    // Another project cannot join it: its own 'sisock-net' does not exist.
    const other = await t.api.project('it-stk-other');
    const sneak = await berthCli(other.base, other.token, ['compose', '-f', join(hub, 'docker-compose.yml'), '-p', 'sneak', 'up', '-d']);
    expect(sneak.code).toBe(1);
    expect(sneak.stderr).toMatch(/external network 'sisock-net' does not exist in this project/);

    ok(await compose(file, 'down'));
    ok(await compose(join(hub, 'docker-compose.yml'), 'down'));
    ok(await berthCli(api.base, api.token, ['network', 'rm', 'sisock-net']));
    await waitFor('the project network to leave the engine', async () => docker('network', 'ls', '-q', '--filter', `label=io.berth.resource=sisock-net`, '--filter', `label=io.berth.instance=${t.server.instance}`) === '', 20_000);
    expect([...leftovers('sisock'), ...leftovers('hub')]).toEqual([]);
  });
});

describe('a base file and an override, with a build FROM another service’s image and a TCP host port (SIP)', () => {
  it('builds the base first, merges the override, and publishes the TCP port on the host', async () => {
    const dir = writeProject('sip', {
      'docker-compose.yml': `services:
  base:
    build: ./base
    image: sip-base
    command: ["true"]
    restart: "no"
  master:
    build: ./master
    ports: ["${HOST_PORT}:${HOST_PORT}"]
    environment:
      MODE: base
    depends_on:
      base: {condition: service_completed_successfully}
`,
      'docker-compose.override.yml': `services:
  master:
    environment:
      MODE: override
`,
      'base/Dockerfile': 'FROM redis:alpine\nRUN echo from-base > /greeting\n',
      'master/Dockerfile': `FROM sip-base\nCOPY greet.sh /bin/greet.sh\nCMD ["nc", "-ll", "-p", "${HOST_PORT}", "-e", "/bin/greet.sh"]\n`,
      'master/greet.sh*': '#!/bin/sh\necho "$(cat /greeting) $MODE"\n',
    });
    docker('rmi', '-f', 'sip-base');
    const up = ok(await compose([join(dir, 'docker-compose.yml'), join(dir, 'docker-compose.override.yml')], 'up', '-d'));
    expect(up.stderr.indexOf('building base')).toBeLessThan(up.stderr.indexOf('building master'));
    expect(await ps('sip')).toMatchObject({ base: { state: 'completed' }, master: { state: 'running' } });
    expect(await tcpLine(HOST_PORT)).toBe('from-base override');
    const listed = ok(await compose(join(dir, 'docker-compose.yml'), 'ps'));
    expect(listed.stdout).toMatch(new RegExp(`master\\s+running\\s+\\S+\\s+1/1\\s+0\\.0\\.0\\.0:${HOST_PORT}->${HOST_PORT}/tcp`));
    ok(await compose(join(dir, 'docker-compose.yml'), 'down', '--rmi', 'local'));
    expect(leftovers('sip')).toEqual([]);
  });
});

describe('a stack with a service that cannot start', () => {
  it('says why with its last exit and lines, and runs the others', async () => {
    const dir = writeProject('mixed', {
      'compose.yaml': `services:
  fine:
    image: ${DEMO_IMAGE}
    command: ["sleep", "3600"]
  broken:
    image: ${DEMO_IMAGE}
    command: ["sh", "-c", "echo cannot open /config/settings.ini; exit 3"]
`,
    });
    const file = join(dir, 'compose.yaml');
    const up = await compose(file, 'up', '-d');
    expect(up.code).toBe(1);
    expect(up.stderr).toMatch(/broken: failed\n\s+task mixed-broken-\w+ exited with code 3 .*cannot open \/config\/settings\.ini/);
    expect(up.stderr).toMatch(/BERTH_DEPLOYMENT_FAILED: broken failed to deploy; the others run/);
    const listed = ok(await compose(file, 'ps'));
    expect(listed.stdout).toMatch(/fine\s+running/);
    expect(listed.stdout).toMatch(/broken: .*exited with code 3[\s\S]*cannot open \/config\/settings\.ini/);
    ok(await compose(file, 'down'));
    expect(leftovers('mixed')).toEqual([]);
  });
});

/** The first line a TCP server sends. */
function tcpLine(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let data = '';
    socket.setTimeout(5_000, () => socket.destroy(new Error('no answer in 5 s')));
    socket.on('data', (chunk) => {
      data += chunk.toString();
      if (data.includes('\n')) {
        socket.destroy();
        resolve(data.split('\n')[0] as string);
      }
    });
    socket.on('error', reject);
  });
}
