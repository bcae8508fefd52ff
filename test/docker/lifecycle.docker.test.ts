import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { definition, ensureDemoImage, instanceContainers, waitFor, waitForDeployment, type ApiClient } from '../support/docker-harness.js';
import { ServerProcess } from '../support/server-process.js';

// Ports 17400-17419 belong to this file.
const dataDir = mkdtempSync(join(tmpdir(), 'berth-life-'));
const server = new ServerProcess(dataDir, 17400);
let api: ApiClient;
let instance = '';

function pidOf(file: string): number {
  return Number(readFileSync(join(dataDir, file), 'utf8').trim());
}

async function serves(): Promise<boolean> {
  try {
    const res = await fetch(`${server.gatewayUrl}/it-life-web/`);
    return res.status === 200 && (await res.text()).startsWith('hello from');
  } catch {
    return false;
  }
}

beforeAll(async () => {
  ensureDemoImage();
  await server.start();
  api = await server.api.project('it-life');
  await api.call('POST', '/services', { name: 'web', health_check: { interval: 1 } });
  const res = await api.call('PUT', '/services/web', definition());
  expect((await waitForDeployment(api, 'web', res.json.deployment)).step).toBe('succeeded');
  instance = execFileSync('docker', ['inspect', '-f', '{{index .Config.Labels "io.berth.instance"}}', instanceContainersAny()[0] as string], { encoding: 'utf8' }).trim();
  await waitFor('the gateway to serve', serves);
});

function instanceContainersAny(): string[] {
  return execFileSync('docker', ['ps', '-q', '--filter', 'label=io.berth.project=it-life'], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
}

afterAll(async () => {
  await server.destroy(instance || null);
});

describe('the server process', () => {
  it('stops cleanly on SIGTERM and leaves services and the gateway serving', async () => {
    const containers = instanceContainers(instance);
    expect(await server.stop('SIGTERM')).toBe(0);
    expect(instanceContainers(instance)).toEqual(containers);
    expect(await serves()).toBe(true);
  });

  it('adopts nginx, the registry and the containers on the next start', async () => {
    const nginx = pidOf('nginx/nginx.pid');
    const registry = pidOf('registry/registry.pid');
    const containers = instanceContainers(instance).sort();
    await server.start();
    expect(pidOf('nginx/nginx.pid')).toBe(nginx);
    expect(pidOf('registry/registry.pid')).toBe(registry);
    await waitFor('a steady status', async () => (await api.status('web')).count_running === 1);
    expect(instanceContainers(instance).sort()).toEqual(containers);
    expect(await serves()).toBe(true);
  });

  it('keeps serving through kill -9 of the server, and converges after the restart', async () => {
    expect(await server.stop('SIGKILL')).toBe('SIGKILL');
    for (let i = 0; i < 20; i++) expect(await serves()).toBe(true);
    await server.start();
    await waitFor('a steady status', async () => (await api.status('web')).count_running === 1);
    expect(instanceContainers(instance)).toHaveLength(1);
  });

  it('restarts nginx when it dies and pushes the route table again within 5 s', async () => {
    const before = pidOf('nginx/nginx.pid');
    process.kill(before, 'SIGKILL');
    const started = Date.now();
    await waitFor('nginx back and serving', async () => (await serves()) && pidOf('nginx/nginx.pid') !== before, 10_000);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('restarts the registry when it dies', async () => {
    const before = pidOf('registry/registry.pid');
    process.kill(before, 'SIGKILL');
    await waitFor('registry back', async () => {
      const pid = pidOf('registry/registry.pid');
      if (pid === before) return false;
      const res = await fetch('http://127.0.0.1:17403/v2/');
      return res.status === 401;
    }, 10_000);
  });
});
