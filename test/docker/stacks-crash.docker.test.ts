import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_IMAGE, docker, ensureDemoImage, waitFor, type ApiClient } from '../support/docker-harness.js';
import { ServerProcess } from '../support/server-process.js';

// Ports 18620-18629 belong to this file.
const dataDir = mkdtempSync(join(tmpdir(), 'berth-stack-crash-'));
const server = new ServerProcess(dataDir, 18620);
let api: ApiClient;
let instance = '';

const web = (name: string, dependsOn: string[] = []) => `  ${name}:
    image: ${DEMO_IMAGE}
    command: ["/bin/serve"]
    ports: ["80"]
    volumes: [shared:/data]
${dependsOn.length ? `    depends_on: [${dependsOn.join(', ')}]\n` : ''}`;

const FIVE = `services:
${web('api')}${web('ui', ['api'])}${web('admin', ['api'])}  cache:
    image: ${DEMO_IMAGE}
    command: ["sleep", "3600"]
  queue:
    image: ${DEMO_IMAGE}
    command: ["sleep", "3600"]
    depends_on: [cache]
volumes:
  shared: {}
`;

function stackThings(kind: 'ps' | 'network' | 'volume'): string[] {
  const filter = ['--filter', 'label=io.berth.stack=five', '--filter', `label=io.berth.instance=${instance}`];
  const out = kind === 'ps' ? docker('ps', '-aq', ...filter) : docker(kind, 'ls', '-q', ...filter);
  return out.split('\n').filter(Boolean);
}

async function states(): Promise<string[]> {
  const res = await api.call('GET', '/stacks/five');
  return (res.json.services as { state: string }[]).map((s) => s.state);
}

beforeAll(async () => {
  ensureDemoImage();
  await server.start();
  api = await server.api.project('it-stcrash');
});

afterAll(async () => {
  await server.destroy(instance || null);
});

describe('kill -9 of the server during up and down of a 5-service stack', () => {
  it('converges to the declared stack after a kill mid-up, and leaves nothing after a kill mid-down', async () => {
    const res = await api.call('PUT', '/stacks/five', { compose: FIVE });
    expect(res.status).toBe(200);
    // Killed once the first task exists, while the others are still to be made.
    await waitFor('a first task of the stack', async () => docker('ps', '-aq', '--filter', 'label=io.berth.stack=five').split('\n').filter(Boolean).length > 0, 30_000, 20);
    await server.stop('SIGKILL');
    instance = docker('inspect', '-f', '{{index .Config.Labels "io.berth.instance"}}', docker('ps', '-aq', '--filter', 'label=io.berth.stack=five').split('\n')[0] as string);
    await server.start();
    await waitFor('every service of the stack to run', async () => (await states()).every((s) => s === 'running'), 60_000);
    // One task each: nothing the kill interrupted was made twice.
    const containers = docker('ps', '-a', '--filter', 'label=io.berth.stack=five', '--format', '{{.Label "io.berth.service"}} {{.State}}').split('\n').sort();
    expect(containers).toEqual(['five-admin running', 'five-api running', 'five-cache running', 'five-queue running', 'five-ui running']);
    for (const path of ['/it-stcrash-five-api/', '/it-stcrash-five-ui/', '/it-stcrash-five-admin/']) expect((await fetch(`${server.gatewayUrl}${path}`)).status).toBe(200);

    expect((await api.call('DELETE', '/stacks/five?volumes=true')).status).toBe(200);
    await waitFor('the teardown to start', async () => stackThings('ps').length < 5, 30_000, 20);
    await server.stop('SIGKILL');
    await server.start();
    await waitFor('the stack to be gone', async () => (await api.call('GET', '/stacks/five')).status === 404, 60_000);
    expect({ containers: stackThings('ps'), networks: stackThings('network'), volumes: stackThings('volume') }).toEqual({ containers: [], networks: [], volumes: [] });
  });
});
