import { execFileSync, spawn } from 'node:child_process';
import { openSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { definition, startTestServer, waitFor, waitForDeployment, type ApiClient, type TestServer } from '../support/docker-harness.js';

// Ports 17900-17919 belong to this file. It restarts the Docker engine, so it
// runs only where the engine is a plain process this machine started (as in CI).
let t: TestServer;
let api: ApiClient;

function dockerdPid(): number | null {
  try {
    return Number(execFileSync('pidof', ['dockerd'], { encoding: 'utf8' }).trim().split(' ')[0]);
  } catch {
    return null;
  }
}

function engineAnswers(): boolean {
  try {
    execFileSync('docker', ['info'], { stdio: 'ignore', timeout: 5000 });
    return true;
  } catch {
    return false;
  }
}

async function restartEngine(): Promise<void> {
  const pid = dockerdPid();
  if (pid === null) throw new Error('no dockerd process to restart');
  process.kill(pid, 'SIGTERM');
  await waitFor('dockerd to exit', async () => dockerdPid() === null, 60_000);
  const log = openSync('/var/log/dockerd.log', 'a');
  spawn('dockerd', [], { detached: true, stdio: ['ignore', log, log] }).unref();
  await waitFor('the engine to answer again', async () => engineAnswers(), 60_000);
}

async function serves(): Promise<boolean> {
  try {
    return (await fetch(`${t.gatewayUrl}/it-engine-web/`)).status === 200;
  } catch {
    return false;
  }
}

beforeAll(async () => {
  t = await startTestServer({ basePort: 17900 });
  api = await t.api.project('it-engine');
  await api.call('POST', '/services', { name: 'web', health_check: { interval: 1 } });
  const res = await api.call('PUT', '/services/web', definition({ replicas: 2 }));
  expect((await waitForDeployment(api, 'web', res.json.deployment)).step).toBe('succeeded');
  await waitFor('served', serves);
});

afterAll(async () => {
  await t?.destroy();
});

describe.runIf(dockerdPid() !== null)('when the Docker engine restarts', () => {
  it('reconnects to its event stream and keeps the service healthy and served', async () => {
    await restartEngine();
    await waitFor('two healthy tasks', async () => {
      const s = await api.status('web');
      return s.count_running === 2 && s.target_health.targets.filter((x: any) => x.health === 'healthy').length === 2;
    }, 60_000);
    await waitFor('the gateway to serve', serves, 15_000);
    // Only the engine's event stream wakes the reconciler this fast (its periodic pass is 10 s).
    const [victim] = execFileSync('docker', ['ps', '-q', '--filter', 'label=io.berth.project=it-engine'], { encoding: 'utf8' }).trim().split('\n');
    const killedAt = Date.now();
    execFileSync('docker', ['kill', victim as string]);
    await waitFor('the killed task replaced', async () => {
      const s = await api.status('web');
      return s.count_running === 2 && s.events.some((e: any) => /exited with code 137/.test(e.message));
    }, 20_000);
    expect(Date.now() - killedAt).toBeLessThan(5_000);
  }, 180_000);
});
