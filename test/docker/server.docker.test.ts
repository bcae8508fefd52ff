import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  afterPasses,
  ApiClient,
  definition,
  docker,
  instanceContainers,
  startTestServer,
  waitFor,
  waitForDeployment,
  type TestServer,
} from '../support/docker-harness.js';

// Ports 17100-17119 belong to this file.
let t: TestServer;
let api: ApiClient;
let instance: string;

beforeAll(async () => {
  t = await startTestServer({ basePort: 17100, memoryCapacity: '1000' });
  instance = t.server.instance;
  api = await t.api.project('it-core');
});

afterAll(async () => {
  await t?.destroy();
});

function inspect(id: string): any {
  return JSON.parse(docker('inspect', id))[0];
}

async function deploy(service: string, overrides: Record<string, unknown> = {}): Promise<any> {
  const res = await api.call('PUT', `/services/${service}`, definition(overrides));
  expect(res.status, JSON.stringify(res.json)).toBe(200);
  return waitForDeployment(api, service, res.json.deployment);
}

describe('deploying a service on the real engine', () => {
  it('creates labelled, memory-limited, unprivileged containers with the definition’s environment', async () => {
    expect((await api.call('POST', '/services', { name: 'web' })).status).toBe(201);
    const done = await deploy('web', { replicas: 2, 'memory-reservation': 20, 'memory-limit': 40, environment: [{ name: 'GREETING', value: 'sekrit-greeting' }] });
    expect(done.step).toBe('succeeded');

    const ids = instanceContainers(instance, 'label=io.berth.service=web');
    expect(ids).toHaveLength(2);
    for (const id of ids) {
      const c = inspect(id);
      expect(c.State.Running).toBe(true);
      expect(c.Config.Labels).toMatchObject({
        'io.berth.managed': 'true',
        'io.berth.instance': instance,
        'io.berth.project': 'it-core',
        'io.berth.service': 'web',
        'io.berth.revision': '1',
      });
      expect(c.HostConfig.Memory).toBe(40 * 1024 * 1024);
      expect(c.HostConfig.MemoryReservation).toBe(20 * 1024 * 1024);
      expect(c.Config.Env).toEqual(expect.arrayContaining(['GREETING=sekrit-greeting', 'CONTEXT_ROOT=/it-core-web']));
      expect(c.HostConfig.PortBindings ?? {}).toEqual({});
      expect(c.HostConfig.Privileged).toBe(false);
      expect(c.HostConfig.SecurityOpt).toContain('no-new-privileges');
      expect(c.HostConfig.Binds ?? []).toEqual([]);
      expect(c.HostConfig.LogConfig.Config['max-size']).toBeDefined();
      expect(c.HostConfig.CapDrop).toEqual(['ALL']);
      expect(c.HostConfig.CapAdd).not.toContain('NET_RAW');
      expect(c.HostConfig.PidsLimit).toBe(512);
      expect(c.HostConfig.NanoCpus).toBe(1e9);
      // only on the project's network, reachable there on the container port, under its context root
      expect(Object.keys(c.NetworkSettings.Networks)).toEqual([`berth-${instance}-it-core`]);
      const page = await fetch(`http://${c.NetworkSettings.Networks[`berth-${instance}-it-core`].IPAddress}/it-core-web/`);
      expect(await page.text()).toMatch(/^sekrit-greeting from /);
    }

    const status = await api.status('web');
    expect(status).toMatchObject({ service_status: 'ACTIVE', count_desired: 2, count_running: 2, count_pending: 0, current_revision: 1 });
    expect(status.tasks.map((task: any) => task.last_status)).toEqual(['RUNNING', 'RUNNING']);
    expect(status.tasks[0].task_definition).toMatchObject({ revision: 1, container_memory_limit: 40, container_memory_reservation: 20, container_port: 80 });
    const messages = status.events.map((e: any) => e.message);
    expect(messages).toEqual(expect.arrayContaining(['deployment of revision 1 finished']));
    expect(messages.find((m: string) => m.startsWith('started 2 tasks'))).toBeDefined();
    await waitFor('steady state event', async () => (await api.status('web')).events[0].message === 'reached a steady state');
    // environment values never reach events
    expect(JSON.stringify(status.events)).not.toContain('sekrit');
  });

  it('replaces the old revision’s tasks on update', async () => {
    const done = await deploy('web', { environment: [{ name: 'GREETING', value: 'v2' }] });
    expect(done).toMatchObject({ step: 'succeeded', revision: 2 });
    await waitFor('only revision 2 tasks', async () => {
      const ids = instanceContainers(instance, 'label=io.berth.service=web');
      return ids.length === 1 && inspect(ids[0] as string).Config.Labels['io.berth.revision'] === '2';
    });
    const status = await api.status('web');
    expect(status.current_revision).toBe(2);
    expect(status.count_desired).toBe(1);
  });

  it('restarts a task that dies, reports its exit code, keeps its logs and leaves no stopped container', async () => {
    const [id] = instanceContainers(instance, 'label=io.berth.service=web');
    const victim = inspect(id as string).Config.Labels['io.berth.task'];
    docker('kill', id as string);
    const status = await waitFor('a replacement task', async () => {
      const s = await api.status('web');
      return s.count_running === 1 && s.tasks.every((task: any) => task.task_name !== victim) ? s : null;
    }, 10_000);
    expect(status.events.map((e: any) => e.message)).toContain(`task ${victim} exited with code 137 (killed)`);
    expect(instanceContainers(instance, 'status=exited')).toEqual([]);
    const logs = (await api.call('GET', '/services/web?view=logs&tail=5&streams=5')).json.logs;
    const dead = logs.find((l: any) => l.stream_name === victim);
    expect(dead.log_events[0].message).toMatch(/serving \/www\/it-core-web/);
    expect(logs[0].stream_name).not.toBe(victim); // newest stream first
  });

  it('reports an out-of-memory kill as such', async () => {
    await api.call('POST', '/services', { name: 'hog' });
    const res = await api.call('PUT', '/services/hog', definition({
      'memory-limit': 16,
      'memory-reservation': 8,
      command: ['sh', '-c', 'echo filling memory; x=$(head -c 100000000 /dev/zero | tr "\\000" a); echo survived'],
    }));
    expect(res.status).toBe(200);
    const event = await waitFor('an OOM event', async () => {
      const s = await api.status('hog');
      return s.events.find((e: any) => /out of memory \(limit 16 MiB\)/.test(e.message));
    });
    expect(event.message).toMatch(/^task hog-[0-9a-f]{4} exited with code 137: out of memory \(limit 16 MiB\)$/);
    const done = await waitForDeployment(api, 'hog', res.json.deployment);
    expect(done.step).toBe('failed');
    expect(done.reason).toMatch(/exited with code 137/);
    expect(instanceContainers(instance, 'label=io.berth.service=hog')).toEqual([]);
  });

  it('rolls back a deployment whose tasks crash and keeps the running revision serving', async () => {
    const before = instanceContainers(instance, 'label=io.berth.service=web');
    const res = await api.call('PUT', '/services/web', definition({ command: ['sh', '-c', 'echo cannot start; exit 3'] }));
    const done = await waitForDeployment(api, 'web', res.json.deployment);
    expect(done.step).toBe('failed');
    expect(done.reason).toMatch(/exited with code 3.*cannot start/);
    const status = await api.status('web');
    expect(status.current_revision).toBe(2);
    expect(status.events.map((e: any) => e.message)).toContain(`deployment of revision 3 failed: ${done.reason}`);
    expect(instanceContainers(instance, 'label=io.berth.service=web')).toEqual(before);
  });

  it('refuses a deployment that does not fit the memory capacity and leaves the running revision alone', async () => {
    const before = instanceContainers(instance, 'label=io.berth.service=web');
    const res = await api.call('PUT', '/services/web', definition({ replicas: 3, 'memory-reservation': 400, 'memory-limit': 400 }));
    const done = await waitForDeployment(api, 'web', res.json.deployment);
    expect(done.step).toBe('failed');
    expect(done.reason).toMatch(/not enough memory: 3 task\(s\) × 400 MiB reserved = 1200 MiB, but only \d+ MiB of 1000 MiB is unreserved/);
    expect(instanceContainers(instance, 'label=io.berth.service=web')).toEqual(before);
    expect((await api.status('web')).current_revision).toBe(2);
  });

  it('reports a crash loop with the last exit and log lines, backing off between restarts', async () => {
    await api.call('POST', '/services', { name: 'flaky', health_check: { interval: 1 } });
    const res = await api.call('PUT', '/services/flaky', definition({
      command: ['sh', '-c', '/bin/serve & sleep 1.5; echo giving up now; exit 7'],
    }));
    expect((await waitForDeployment(api, 'flaky', res.json.deployment)).step).toBe('succeeded');
    const status = await waitFor('crash-looping', async () => {
      const s = await api.status('flaky');
      return s.crash_looping ? s : null;
    }, 45_000);
    expect(status.last_exit).toMatch(/^task flaky-[0-9a-f]{4} exited with code 7$/);
    expect(status.last_exit_logs).toContain('giving up now');
    const exits = status.events.filter((e: any) => /exited with code 7/.test(e.message)).map((e: any) => Date.parse(e.created_at));
    expect(exits.length).toBeGreaterThanOrEqual(3);
    expect((await api.call('DELETE', '/services/flaky')).status).toBe(200);
  }, 60_000);

  it('adopts its containers after a restart instead of starting new ones', async () => {
    const before = instanceContainers(instance).sort();
    await t.restart();
    await afterPasses(t.server);
    expect(instanceContainers(instance).sort()).toEqual(before);
    expect((await api.status('web')).count_running).toBe(1);
  });

  it('never touches the containers of another instance on the same engine', async () => {
    const other = await startTestServer({ basePort: 17110 });
    try {
      expect(other.server.instance).not.toBe(instance);
      const mine = instanceContainers(instance).sort();
      await afterPasses(other.server);
      expect(instanceContainers(instance).sort()).toEqual(mine);
    } finally {
      await other.destroy();
    }
    expect(instanceContainers(instance).length).toBeGreaterThan(0);
  });

  it('deletes a service with its containers and leaves nothing behind', async () => {
    expect((await api.call('DELETE', '/services/web')).status).toBe(200);
    await waitFor('service gone', async () => (await api.call('GET', '/services/web')).status === 404, 20_000);
    expect(instanceContainers(instance, 'label=io.berth.service=web')).toEqual([]);
    expect((await api.call('GET', '/services')).json.map((s: any) => s.name)).not.toContain('web');
  });
});
