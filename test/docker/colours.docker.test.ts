import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  afterPasses,
  definition,
  docker,
  instanceContainers,
  startTestServer,
  waitFor,
  waitForDeployment,
  type ApiClient,
  type TestServer,
} from '../support/docker-harness.js';
import { httpRequest } from '../support/http.js';
import { KeepAliveLoad } from '../support/keepalive-load.js';

// Ports 19140-19143 belong to this file; projects are named col*.
const BASE_PORT = 19140;
const GATEWAY_PORT = BASE_PORT + 1;

let t: TestServer;
let api: ApiClient;

/** What the gateway answers at the service's address: the greeting of the colour that served. */
async function served(headers: Record<string, string> = {}): Promise<string> {
  const reply = await httpRequest(GATEWAY_PORT, '/col-nmpi/', { headers });
  return reply.status === 200 ? (reply.body.split(' ')[0] as string) : `HTTP ${reply.status}`;
}

async function deploy(colour: string, greeting = colour): Promise<void> {
  const res = await api.call('PUT', `/services/nmpi?colour=${colour}`, definition({ environment: [{ name: 'GREETING', value: greeting }] }));
  expect(res.status, JSON.stringify(res.json)).toBe(200);
  expect((await waitForDeployment(api, 'nmpi', res.json.deployment)).step).toBe('succeeded');
}

function colourTasks(colour: string): string[] {
  return instanceContainers(t.server.instance, `label=io.berth.colour=${colour}`);
}

async function audit(): Promise<{ action: string; detail: string }[]> {
  return (await t.api.call('GET', '/audit?limit=100')).json.entries;
}

beforeAll(async () => {
  t = await startTestServer({ basePort: BASE_PORT });
  api = await t.api.project('col');
  expect((await api.call('POST', '/services', { name: 'nmpi', health_check: { rel_path: '/health', interval: 1 } })).status).toBe(201);
});

afterAll(async () => {
  await t?.destroy();
});

describe('blue/green releases on the real engine and gateway', () => {
  it('serves the first colour live, and a later one only to requests that name it, at the same address', async () => {
    await deploy('blue');
    await waitFor('blue live', async () => (await served()) === 'blue');
    await deploy('green');
    await waitFor('green reachable by header', async () => (await served({ 'X-Berth-Colour': 'green' })) === 'green');
    expect(await served()).toBe('blue');
    expect(await served({ Cookie: 'berth_colour=green' })).toBe('green');
    // The app sees its own CONTEXT_ROOT whatever colour it is.
    expect(docker('inspect', '-f', '{{range .Config.Env}}{{println .}}{{end}}', colourTasks('green')[0] as string)).toContain('CONTEXT_ROOT=/col-nmpi');
    const status = await api.status('nmpi');
    expect(status.live_colour).toBe('blue');
    expect(status.colours.map((c: any) => [c.colour, c.live, c.count_running, c.target_health.targets[0]?.health])).toEqual([
      ['blue', true, 1, 'healthy'],
      ['green', false, 1, 'healthy'],
    ]);
  });

  it('switches under keep-alive load with no failed request, and back just as fast', async () => {
    const load = new KeepAliveLoad(GATEWAY_PORT, '/col-nmpi/');
    try {
      for (const colour of ['green', 'blue', 'green', 'blue']) {
        await load.more(200);
        const res = await api.call('POST', '/services/nmpi/switch', { colour });
        const answered = performance.now();
        expect(res.json).toMatchObject({ live_colour: colour, switched: true });
        expect(res.json.took_ms).toBeLessThan(1_000);
        await load.more(200);
        // Once the switch has answered, every request goes to the colour switched to.
        expect(load.sentSince(answered).filter((r) => !r.body.startsWith(`${colour} `)).map((r) => r.body)).toEqual([]);
      }
    } finally {
      await load.stop();
    }
    expect(load.failures).toEqual([]);
    // Both colours kept running all along.
    expect([colourTasks('blue').length, colourTasks('green').length]).toEqual([1, 1]);
    const switches = (await audit()).filter((e) => e.action === 'service.switch').map((e) => e.detail);
    expect(switches).toEqual(['from green to blue', 'from blue to green', 'from green to blue', 'from blue to green']);
  });

  it('refuses a colour whose tasks fail their health check, naming them and why', async () => {
    const [task] = colourTasks('green');
    docker('exec', task as string, '/bin/busybox', 'rm', '/www/col-nmpi/health');
    await waitFor('green out of the gateway', async () => (await served({ 'X-Berth-Colour': 'green' })) === 'HTTP 503', 30_000);
    const res = await api.call('POST', '/services/nmpi/switch', { colour: 'green' });
    expect([res.status, res.json.code]).toEqual([409, 'BERTH_COLOUR_UNHEALTHY']);
    // The task is refused at its first failed probe and replaced at once: the answer says so either way.
    expect(res.json.Error).toMatch(/has no healthy task: (nmpi-green-[0-9a-f]{4}: unhealthy \(.*404.*\)|none runs \(last event: .*nmpi-green-[0-9a-f]{4}.*\))/);
    expect(await served()).toBe('blue');
    // berth replaces the unhealthy task; the colour is switchable again.
    await waitFor('a healthy green again', async () => (await served({ 'X-Berth-Colour': 'green' })) === 'green', 60_000);
  });

  it('keeps another project out of the colours', async () => {
    const other = await t.api.project('colx');
    for (const [method, path, body] of [
      ['POST', '/services/nmpi/switch', { colour: 'green', force: true }],
      ['DELETE', '/services/nmpi?colour=green', undefined],
      ['PUT', '/services/nmpi?colour=green', definition()],
      ['POST', '/services/nmpi/redeploy?colour=green', undefined],
    ] as const) {
      expect((await other.call(method, path, body)).status, `${method} ${path}`).toBe(404);
    }
    expect((await api.status('nmpi')).live_colour).toBe('blue');
  });

  it('redeploys a colour with start-first, never failing a request to it', async () => {
    const load = new KeepAliveLoad(GATEWAY_PORT, '/col-nmpi/', { headers: { 'X-Berth-Colour': 'green' }, connections: 4 });
    try {
      const res = await api.call('POST', '/services/nmpi/redeploy?colour=green');
      expect(res.json).toMatchObject({ colour: 'green' });
      expect((await waitForDeployment(api, 'nmpi', res.json.deployment)).step).toBe('succeeded');
      await load.more(50);
    } finally {
      await load.stop();
    }
    expect(load.failures).toEqual([]);
    const green = (await api.status('nmpi')).colours.find((c: any) => c.colour === 'green');
    expect(green.current_revision).toBe(2);
  });

  it('terminates a colour that is not live, never the live one', async () => {
    const live = await api.call('DELETE', '/services/nmpi?colour=blue');
    expect([live.status, live.json.code]).toEqual([409, 'BERTH_COLOUR_LIVE']);
    expect((await api.call('DELETE', '/services/nmpi?colour=green')).status).toBe(200);
    await waitFor('green gone', async () => colourTasks('green').length === 0);
    await waitFor('green gone from status', async () => (await api.status('nmpi')).colours.length === 1);
    // A request naming a colour the service no longer has is served by the live one.
    expect(await served({ 'X-Berth-Colour': 'green' })).toBe('blue');
    expect(colourTasks('blue')).toHaveLength(1);
  });

  it('deletes the service with all its colours and leaves nothing behind', async () => {
    await deploy('green');
    expect((await api.call('DELETE', '/services/nmpi')).status).toBe(200);
    await waitFor('the service gone', async () => (await api.call('GET', '/services/nmpi')).status === 404, 60_000);
    await afterPasses(t.server);
    expect(instanceContainers(t.server.instance, 'label=io.berth.project=col')).toEqual([]);
    expect(await served()).toBe('HTTP 404');
  });
});
