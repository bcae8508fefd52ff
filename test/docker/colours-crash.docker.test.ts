import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { definition, docker, ensureDemoImage, waitFor, waitForDeployment, type ApiClient } from '../support/docker-harness.js';
import { httpRequest } from '../support/http.js';
import { ServerProcess } from '../support/server-process.js';

// Ports 19150-19153 belong to this file; the project is named col-crash.
const dataDir = mkdtempSync(join(tmpdir(), 'berth-col-crash-'));
const server = new ServerProcess(dataDir, 19150);
let api: ApiClient;
let instance: string | null = null;

async function served(): Promise<string> {
  const reply = await httpRequest(19151, '/col-crash-nmpi/');
  return reply.status === 200 ? (reply.body.split(' ')[0] as string) : `HTTP ${reply.status}`;
}

async function switches(): Promise<string[]> {
  const entries: { action: string; detail: string }[] = (await server.api.call('GET', '/audit?limit=100')).json.entries;
  return entries.filter((e) => e.action === 'service.switch').map((e) => e.detail);
}

beforeAll(async () => {
  ensureDemoImage();
  await server.start();
  api = await server.api.project('col-crash');
  await api.call('POST', '/services', { name: 'nmpi', health_check: { interval: 1 } });
  for (const colour of ['blue', 'green']) {
    const res = await api.call('PUT', `/services/nmpi?colour=${colour}`, definition({ environment: [{ name: 'GREETING', value: colour }] }));
    expect((await waitForDeployment(api, 'nmpi', res.json.deployment)).step).toBe('succeeded');
  }
  const [task] = docker('ps', '-q', '--filter', 'label=io.berth.project=col-crash').split('\n');
  instance = docker('inspect', '-f', '{{index .Config.Labels "io.berth.instance"}}', task as string);
  await waitFor('blue live', async () => (await served()) === 'blue');
});

afterAll(async () => {
  await server.destroy(instance);
});

describe('kill -9 between a switch’s route table write and its store update', () => {
  it('comes back with one live colour, the same in the gateway, the status and the audit trail', async () => {
    await server.stop('SIGTERM');
    server.extraEnv = { BERTH_FAULT_POINT: 'switch:routed' };
    await server.start();
    // Adopted tasks are probed again after a start.
    await waitFor('both colours healthy', async () => (await api.call('GET', '/services/nmpi')).json?.status?.colours?.every((c: any) => c.target_health.targets[0]?.health === 'healthy'));
    const answer = api.call('POST', '/services/nmpi/switch', { colour: 'green' }).then(
      (res) => `HTTP ${res.status}`,
      (error: unknown) => String(error),
    );
    const exited = await server.exited(30_000);
    expect([exited, await answer]).toEqual(['SIGKILL', expect.not.stringMatching(/^HTTP/)]);
    // The table was written before the kill: nginx, which outlives the server, serves green.
    expect(await served()).toBe('green');

    server.extraEnv = {};
    await server.start();
    // The store never recorded the switch, so the restarted server serves blue again.
    await waitFor('the gateway back on the colour the store has', async () => (await served()) === 'blue', 30_000);
    const status = (await api.call('GET', '/services/nmpi')).json.status;
    expect(status.live_colour).toBe('blue');
    expect(status.colours.map((c: any) => [c.colour, c.live])).toEqual([
      ['blue', true],
      ['green', false],
    ]);
    expect(status.events.map((e: any) => e.message)).not.toContain('switched live traffic from blue to green');
    expect(await switches()).toEqual([]);
    for (let i = 0; i < 20; i++) expect(await served()).toBe('blue');

    // And the switch works once asked again.
    const res = await api.call('POST', '/services/nmpi/switch', { colour: 'green' });
    expect(res.json).toMatchObject({ live_colour: 'green', previous_colour: 'blue', switched: true });
    expect(await served()).toBe('green');
    expect(await switches()).toEqual(['from blue to green']);
  }, 120_000);
});
