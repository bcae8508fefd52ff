import { Agent, request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient, definition, startTestServer, waitFor, waitForDeployment, type TestServer } from '../support/docker-harness.js';

// Ports 17200-17219 belong to this file.
let t: TestServer;
let api: ApiClient;

beforeAll(async () => {
  t = await startTestServer({ basePort: 17200 });
  api = await t.api.project('it-gw');
});

afterAll(async () => {
  await t?.destroy();
});

async function get(path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; headers: Headers }> {
  const res = await fetch(`${t.gatewayUrl}${path}`, { headers });
  return { status: res.status, body: await res.text(), headers: res.headers };
}

async function deployAndWait(service: string, overrides: Record<string, unknown> = {}): Promise<any> {
  const res = await api.call('PUT', `/services/${service}`, definition(overrides));
  expect(res.status, JSON.stringify(res.json)).toBe(200);
  return waitForDeployment(api, service, res.json.deployment);
}

describe('the gateway in front of real services', () => {
  it('routes /<project>-<service>/… to the service with the path unchanged', async () => {
    await api.call('POST', '/services', { name: 'web', health_check: { rel_path: '/health', status_codes: '200-299', interval: 1 } });
    expect((await deployAndWait('web', { replicas: 2 })).step).toBe('succeeded');
    const page = await get('/it-gw-web/');
    expect(page.status).toBe(200);
    expect(page.body).toMatch(/^hello from /);
    expect((await get('/it-gw-web/health')).body).toBe('ok\n');
    expect((await get('/it-gw-web/missing.html')).status).toBe(404); // the service's own 404, passed through
  });

  it('balances requests across replicas', async () => {
    const hosts = new Set<string>();
    for (let i = 0; i < 20; i++) hosts.add((await get('/it-gw-web/')).body);
    expect(hosts.size).toBe(2);
  });

  it('answers 404 for a path that matches no service, and 503 for a service with no healthy task', async () => {
    const unknown = await get('/it-gw-nothing/');
    expect(unknown.status).toBe(404);
    await api.call('POST', '/services', { name: 'idle' });
    await waitFor('idle route', async () => (await get('/it-gw-idle/')).status === 503);
    expect((await get('/it-gw-idle/')).body).toMatch(/no healthy/i);
    expect((await get('/it-gw-webx/')).status).toBe(404); // prefix match stops at the segment
  });

  it('shows every target’s health with the check’s path', async () => {
    const status = await api.status('web');
    expect(status.target_health.health_check_path).toBe('/it-gw-web/health');
    expect(status.target_health.targets).toHaveLength(2);
    for (const target of status.target_health.targets) {
      expect(target).toMatchObject({ port: 80, health: 'healthy' });
      expect(target.target).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    }
  });

  it('fails an update whose tasks never pass the health check, says why, and keeps serving the old revision', async () => {
    const failing = deployAndWait('web', { command: ['sh', '-c', 'mkdir -p /www/it-gw-web && echo broken > /www/it-gw-web/index.html && exec httpd -f -p 80 -h /www'] });
    const unhealthy = await waitFor('an unhealthy new target', async () => {
      const s = await api.status('web');
      return s.target_health.targets.find((x: any) => x.health === 'unhealthy');
    });
    expect(unhealthy.description).toBe('Health checks failed with these codes: [404]');
    // never routed to while unhealthy
    for (let i = 0; i < 10; i++) expect((await get('/it-gw-web/')).body).toMatch(/^hello from /);
    const done = await failing;
    expect(done.step).toBe('failed');
    expect(done.reason).toMatch(/did not become healthy within 8 s .*Health checks failed with these codes: \[404\]/);
    expect((await get('/it-gw-web/')).body).toMatch(/^hello from /);
  }, 60_000);

  it('replaces a revision under keep-alive load with zero failed requests', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 8 });
    let failures = 0;
    let total = 0;
    const seen = new Set<string>();
    let stop = false;
    const worker = async (): Promise<void> => {
      while (!stop) {
        const result = await new Promise<{ status: number; body: string }>((resolve) => {
          const req = request(`${t.gatewayUrl}/it-gw-web/`, { agent }, (res) => {
            let body = '';
            res.on('data', (chunk) => (body += chunk));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
            res.on('error', () => resolve({ status: 0, body: '' }));
          });
          req.on('error', () => resolve({ status: 0, body: '' }));
          req.end();
        });
        total++;
        if (result.status !== 200) failures++;
        else seen.add(result.body.split(' ')[0] as string);
      }
    };
    const workers = Array.from({ length: 8 }, () => worker());
    const done = await deployAndWait('web', { replicas: 2, environment: [{ name: 'GREETING', value: 'v2' }] });
    await waitFor('the new revision answering', async () => seen.has('v2'));
    await new Promise((resolve) => setTimeout(resolve, 500));
    stop = true;
    await Promise.all(workers);
    agent.destroy();
    expect(done.step).toBe('succeeded');
    expect(total).toBeGreaterThan(200);
    expect(failures).toBe(0);
    expect([...seen].sort()).toEqual(['hello', 'v2']);
  }, 60_000);

  it('replaces a task that becomes unhealthy and takes it out of the gateway', async () => {
    const before = await api.status('web');
    const victim = before.target_health.targets[0];
    // make the health page disappear inside one task
    const { execFileSync } = await import('node:child_process');
    const id = execFileSync('docker', ['ps', '-q', '--filter', `label=io.berth.task=${victim.task_name}`], { encoding: 'utf8' }).trim();
    execFileSync('docker', ['exec', id, 'sh', '-c', 'rm /www/it-gw-web/health']);
    await waitFor('the unhealthy task replaced', async () => {
      const s = await api.status('web');
      return s.target_health.targets.length === 2 &&
        s.target_health.targets.every((x: any) => x.health === 'healthy' && x.task_name !== victim.task_name);
    }, 30_000);
    const events = (await api.status('web')).events.map((e: any) => e.message).join('\n');
    expect(events).toContain(`task ${victim.task_name} is unhealthy`);
  }, 60_000);
});
