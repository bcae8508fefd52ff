import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  definition,
  docker,
  ensureDemoImage,
  instanceContainers,
  waitFor,
  waitForDeployment,
  type ApiClient,
} from '../support/docker-harness.js';
import { ServerProcess } from '../support/server-process.js';

// Ports 17800-17819 belong to this file.
const dataDir = mkdtempSync(join(tmpdir(), 'berth-crash-'));
const server = new ServerProcess(dataDir, 17800);
let api: ApiClient;
let instance = '';
let revision = 0;

function greeting(n: number): string {
  return `rev${n}`;
}

async function servedGreeting(): Promise<string> {
  const res = await fetch(`${server.gatewayUrl}/it-crash-web/`);
  return res.status === 200 ? ((await res.text()).split(' ')[0] as string) : `HTTP ${res.status}`;
}

beforeAll(async () => {
  ensureDemoImage();
  await server.start();
  api = await server.api.project('it-crash');
  await api.call('POST', '/services', { name: 'web', health_check: { interval: 1 } });
  const res = await api.call('PUT', '/services/web', definition({ replicas: 2, environment: [{ name: 'GREETING', value: greeting(1) }] }));
  revision = 1;
  expect((await waitForDeployment(api, 'web', res.json.deployment)).step).toBe('succeeded');
  instance = readFileSync(join(dataDir, 'berth.db')).length > 0 ? labelOfAnyTask() : '';
});

function labelOfAnyTask(): string {
  const id = docker('ps', '-q', '--filter', 'label=io.berth.project=it-crash').split('\n')[0] as string;
  return docker('inspect', '-f', '{{index .Config.Labels "io.berth.instance"}}', id);
}

afterAll(async () => {
  await server.destroy(instance || null);
});

/** Exactly the wanted tasks run: `replicas` of the current revision, nothing stopped, nothing else. */
async function expectConverged(current: number): Promise<void> {
  await waitFor(`two running tasks of revision ${current} and nothing else`, async () => {
    const all = instanceContainers(instance);
    const wanted = instanceContainers(instance, `label=io.berth.revision=${current}`);
    const running = instanceContainers(instance, 'status=running');
    return all.length === 2 && wanted.length === 2 && running.length === 2;
  }, 30_000);
  await waitFor('the gateway to serve the current revision', async () => (await servedGreeting()) === greeting(current), 15_000);
  const status = await api.status('web');
  expect(status).toMatchObject({ count_running: 2, count_desired: 2, current_revision: current });
  expect(status.target_health.targets.filter((t: any) => t.health === 'healthy')).toHaveLength(2);
}

const points = [
  'deployment:pending',
  'deployment:starting',
  'task:created',
  'deployment:health-wait',
  'deployment:switching',
  'deployment:draining',
  'deployment:stopping',
] as const;

describe('kill -9 at every step of a deployment', () => {
  for (const point of points) {
    it(`converges after a crash at ${point}`, async () => {
      const eventsBefore = (await api.call('GET', '/services/web/events?limit=1000')).json.events.length;
      await server.stop('SIGTERM');
      server.extraEnv = { BERTH_FAULT_POINT: point };
      await server.start();
      const next = revision + 1;
      const res = await api.call('PUT', '/services/web', definition({ replicas: 2, environment: [{ name: 'GREETING', value: greeting(next) }] }));
      expect(res.json.revision).toBe(next);
      expect(await server.exited(30_000)).toBe('SIGKILL');
      // the gateway kept serving while the server was dead
      expect(['rev' + revision, 'rev' + next]).toContain(await servedGreeting());
      server.extraEnv = {};
      await server.start();
      const done = await waitForDeployment(api, 'web', res.json.deployment);
      expect(done.step).toBe('succeeded');
      revision = next;
      await expectConverged(revision);
      const events = (await api.call('GET', '/services/web/events?limit=1000')).json.events;
      expect(events.length).toBeGreaterThan(eventsBefore);
      expect(events.map((e: any) => e.message)).toContain(`deployment of revision ${revision} finished`);
    }, 90_000);
  }

  it('converges after a crash while rolling back a failed deployment', async () => {
    await server.stop('SIGTERM');
    server.extraEnv = { BERTH_FAULT_POINT: 'deployment:rolling-back' };
    await server.start();
    const res = await api.call('PUT', '/services/web', definition({ replicas: 2, command: ['sh', '-c', 'echo no; exit 3'] }));
    expect(await server.exited(30_000)).toBe('SIGKILL');
    server.extraEnv = {};
    await server.start();
    const done = await waitForDeployment(api, 'web', res.json.deployment);
    expect(done.step).toBe('failed');
    await expectConverged(revision);
    const revisions = (await api.call('GET', '/services/web/deployments')).json;
    expect(revisions.length).toBe(points.length + 2);
  }, 90_000);
});
