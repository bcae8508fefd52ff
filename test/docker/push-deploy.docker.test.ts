import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient, DEMO_IMAGE, dockerAsync, startTestServer, waitFor, waitForDeployment, type TestServer } from '../support/docker-harness.js';

// Ports 17500-17519 belong to this file.
let t: TestServer;
let api: ApiClient;
const dockerConfig = mkdtempSync(join(tmpdir(), 'berth-docker-config-'));
const pushed: string[] = [];

function dockerCli(args: string[], input?: string): Promise<string> {
  return dockerAsync(['--config', dockerConfig, ...args], input);
}

beforeAll(async () => {
  t = await startTestServer({ basePort: 17500 });
  api = await t.api.project('it-reg');
});

afterAll(async () => {
  for (const ref of pushed) execFileSync('docker', ['rmi', '-f', ref], { stdio: 'ignore' });
  await t?.destroy();
  rmSync(dockerConfig, { recursive: true, force: true });
});

describe('the servicectl flow: create, credentials, push, deploy by tag', () => {
  let creds: any;

  it('issues credentials that docker login and docker push accept', async () => {
    expect((await api.call('POST', '/services', { name: 'app' })).status).toBe(201);
    const res = await api.call('GET', '/services/app?view=docker');
    expect(res.status).toBe(200);
    creds = res.json;
    expect(creds).toMatchObject({ repo_uri: '127.0.0.1:17503/it-reg/app', proxy_endpoint: '127.0.0.1:17503' });
    await dockerCli(['login', '-u', creds.user, '--password-stdin', creds.proxy_endpoint], creds.password);
    execFileSync('docker', ['tag', DEMO_IMAGE, `${creds.repo_uri}:v1`]);
    pushed.push(`${creds.repo_uri}:v1`);
    await dockerCli(['push', `${creds.repo_uri}:v1`]);
    // the password never appears in events
    expect(JSON.stringify((await api.status('app')).events)).not.toContain(creds.password);
  });

  it('deploys the pushed tag and serves it', async () => {
    const res = await api.call('PUT', '/services/app', {
      'container-tag': 'v1',
      'memory-reservation': 16,
      'memory-limit': 32,
      'container-port': 80,
      environment: [{ name: 'GREETING', value: 'pushed' }],
    });
    expect(res.status).toBe(200);
    const done = await waitForDeployment(api, 'app', res.json.deployment);
    expect(done.step).toBe('succeeded');
    const status = await api.status('app');
    expect(status.tasks[0].task_definition.container_image).toBe(`${creds.repo_uri}:v1`);
    await waitFor('served through the gateway', async () => (await (await fetch(`${t.gatewayUrl}/it-reg-app/`)).text()).startsWith('pushed from'));
  });

  it('fails a deployment of a tag that does not exist, saying so, and keeps serving', async () => {
    const res = await api.call('PUT', '/services/app', { 'container-tag': 'nope', 'memory-reservation': 16, 'memory-limit': 32, 'container-port': 80, environment: [] });
    const done = await waitForDeployment(api, 'app', res.json.deployment);
    expect(done.step).toBe('failed');
    expect(done.reason).toContain(`tag 'nope' does not exist in ${creds.repo_uri}`);
    expect((await api.status('app')).current_revision).toBe(1);
  });

  it('refuses the credentials on another service’s repository', async () => {
    await api.call('POST', '/services', { name: 'other' });
    const other = (await api.call('GET', '/services/other?view=docker')).json;
    execFileSync('docker', ['tag', DEMO_IMAGE, `${other.repo_uri}:x`]);
    pushed.push(`${other.repo_uri}:x`);
    // still logged in with app's credentials
    await expect(dockerCli(['push', `${other.repo_uri}:x`])).rejects.toThrow(/denied|unauthorized|authentication required/i);
  });

  it('revokes the credentials and deletes the repository with the service', async () => {
    expect((await api.call('DELETE', '/services/app')).status).toBe(200);
    await waitFor('service gone', async () => (await api.call('GET', '/services/app')).status === 404, 30_000);
    await expect(dockerCli(['login', '-u', creds.user, '--password-stdin', creds.proxy_endpoint], creds.password)).rejects.toThrow();
    const tags = await fetch(`http://127.0.0.1:17503/v2/it-reg/app/tags/list`);
    expect(tags.status).toBe(401); // anonymous: no access at all
    await expect(t.server.registry.tagExists('it-reg/app', 'v1')).resolves.toBe(false);
  });
});
