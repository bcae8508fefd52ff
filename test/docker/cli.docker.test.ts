import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startCli, type CliResult as Result } from '../support/cli-process.js';
import { ADMIN_TOKEN, DEMO_IMAGE, docker, instanceContainers, startTestServer, waitFor, type TestServer } from '../support/docker-harness.js';

// Ports 17300-17303 belong to this file.
const API = 'http://127.0.0.1:17300';

let t: TestServer;
let home: string;
let buildDir: string;
let pushedImage: string | null = null;


/** The environment of a user who ran `berth login`: no BERTH_URL/BERTH_TOKEN, a private HOME and XDG_CONFIG_HOME. */
function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: home, XDG_CONFIG_HOME: join(home, 'config') };
  delete env.BERTH_URL;
  delete env.BERTH_TOKEN;
  delete env.NO_COLOR;
  return { ...env, ...extra };
}

function start(args: readonly string[], env = userEnv()) {
  return startCli(args, env, 110_000);
}

function berth(args: readonly string[], env = userEnv()): Promise<Result> {
  return runCli(args, env, { timeoutMs: 110_000 });
}

function deployArgs(...extra: string[]): string[] {
  return ['deploy', 'web', '--memory-reservation', '16', '--memory-limit', '32', '--port', '80', ...extra];
}

async function page(): Promise<string> {
  const res = await fetch(`${t.gatewayUrl}/it-cli-web/`);
  return `${res.status} ${await res.text()}`;
}

beforeAll(async () => {
  t = await startTestServer({ basePort: 17300, memoryCapacity: '1000', healthTimeout: '15' });
  home = mkdtempSync(join(tmpdir(), 'berth-cli-home-'));
  buildDir = mkdtempSync(join(tmpdir(), 'berth-cli-build-'));
  writeFileSync(join(buildDir, 'Dockerfile'), `FROM ${DEMO_IMAGE}\nENV GREETING=pushed\n`);
});

afterAll(async () => {
  await t?.destroy();
  if (pushedImage) docker('rmi', '--force', pushedImage);
  rmSync(home, { recursive: true, force: true });
  rmSync(buildDir, { recursive: true, force: true });
});

describe('the berth CLI against a real server', () => {
  it('creates a project with the admin token and logs in with its token (config mode 0600)', async () => {
    const created = await berth(['project', 'create', 'it-cli', '--json'], userEnv({ BERTH_URL: API, BERTH_TOKEN: ADMIN_TOKEN }));
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    const { name, token } = JSON.parse(created.stdout) as { name: string; token: string };
    expect(name).toBe('it-cli');

    const login = await berth(['login', '--url', API, '--token', token]);
    expect(login.code).toBe(0);
    const file = join(home, 'config', 'berth', 'config.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ url: API, token });
  });

  it('creates a service and deploys it, showing the steps, exit 0', async () => {
    expect((await berth(['create', 'web', '--health-path', '/health'])).code).toBe(0);
    const run = await berth(deployArgs('--image', DEMO_IMAGE, '--env', 'GREETING=cli-hello'));
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^web revision 1: (pending|starting|health-wait)/m);
    expect(run.stdout).toMatch(/started 1 task/);
    expect(run.stdout).toMatch(/deployment of revision 1 finished/);
    expect(run.stdout).toMatch(/✓ deployment \d+ succeeded: revision 1 of web is serving at http:\/\/127\.0\.0\.1:17301\/it-cli-web\n$/);
    expect(await page()).toMatch(/^200 cli-hello from /);
  });

  it('reports status, ls and events, as text and as JSON', async () => {
    // A probe can miss on a loaded engine (other suites share it); what matters is that the report shows health.
    // On one engine a task's node is the engine's own name (NMPI's Node column).
    const node = docker('info', '--format', '{{.Name}}').trim();
    const healthyTask = new RegExp(`web-\\S+\\s+1\\s+RUNNING\\s+healthy\\s+${node}\\s+berth-demo/hello:1`);
    const status = await waitFor('a healthy task in the report', async () => {
      const run = await berth(['status', 'web']);
      return healthyTask.test(run.stdout) ? run : null;
    });
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/Service\s+web\s+ACTIVE/);
    expect(status.stdout, status.stdout).toMatch(/Tasks\s+1 running \/ 1 desired/);
    expect(status.stdout).toContain('/it-cli-web/health every 5 s');
    const json = JSON.parse((await berth(['status', 'web', '--json'])).stdout);
    expect(json).toMatchObject({ name: 'web', status: { service_status: 'ACTIVE', count_running: 1, current_revision: 1 } });

    const ls = await berth(['ls']);
    expect(ls.stdout, ls.stdout).toMatch(/^web\s+ACTIVE\s+1\s+berth-demo\/hello:1\s+1\/1\s+http:\/\/127\.0\.0\.1:17301\/it-cli-web$/m);
    expect(JSON.parse((await berth(['ls', '--json'])).stdout)).toEqual([
      { name: 'web', status: 'ACTIVE', revision: 1, image: DEMO_IMAGE, running: 1, desired: 1, url: 'http://127.0.0.1:17301/it-cli-web' },
    ]);

    const events = await berth(['events', 'web']);
    expect(events.stdout, events.stdout).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d {2}service created$/m);
    expect(events.stdout).toContain('deployment of revision 1 finished');
  });

  it('prints logs, and follows them until Ctrl-C', async () => {
    const logs = await berth(['logs', 'web']);
    expect(logs.code).toBe(0);
    expect(logs.stdout).toMatch(/^web-\S+ \| \d{4}-\d\d-\d\dT[\d:.]+Z \| serving \/www\/it-cli-web on port 80$/m);

    const follower = start(['logs', 'web', '-f', '--tail', '1']);
    let stdout = '';
    let stderr = '';
    follower.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    follower.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((resolve) => follower.on('close', resolve));
    await waitFor('the tail line', async () => /^web-\S+ \| /.test(stdout), 20_000);
    // httpd logs each request's path, so this line can only arrive while following.
    const probe = `/it-cli-web/follow-probe-${Date.now()}`;
    await fetch(`${t.gatewayUrl}${probe}`);
    await waitFor('the followed request line', async () => stdout.includes(`url:${probe}`), 20_000);
    follower.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(stderr).toBe('');
  });

  it('exits 1 with the reason when a deployment fails, and the old revision keeps serving', async () => {
    const run = await berth(deployArgs('--image', DEMO_IMAGE, '--', 'sh', '-c', 'echo about to fail; exit 3'));
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^berth: BERTH_DEPLOYMENT_FAILED: Deployment \d+ of revision 2 failed: task \S+ exited with code 3 before it became healthy; last output: about to fail\n$/);
    expect(run.stdout).toMatch(/^\d\d:\d\d:\d\d {2}task \S+ exited with code 3$/m);
    expect(await page()).toMatch(/^200 cli-hello from /);
  });

  it('builds and pushes an image without leaving credentials in ~/.docker, then deploys it by tag', async () => {
    const creds = JSON.parse((await berth(['credentials', 'web', '--json'])).stdout) as { repo_uri: string };
    expect(creds.repo_uri).toBe('127.0.0.1:17303/it-cli/web');
    const text = await berth(['credentials', 'web']);
    expect(text.stdout).toContain('docker login -u ');

    const push = await berth(['push', 'web', buildDir, '--tag', 'v2']);
    pushedImage = `${creds.repo_uri}:v2`;
    expect(push.stderr).toContain(`berth: pushing ${pushedImage}`);
    // Whatever the outcome, the throw-away docker config the login went to is gone, and ~/.docker holds no credentials.
    const loginConfig = /throw-away config (\S+)\)/.exec(push.stderr)?.[1];
    expect(loginConfig).toMatch(/berth-push-/);
    expect(existsSync(loginConfig ?? '')).toBe(false);
    const dockerDir = join(home, '.docker');
    const stored = existsSync(dockerDir) ? readdirSync(dockerDir, { recursive: true }).map((f) => join(dockerDir, String(f))) : [];
    for (const file of stored) if (statSync(file).isFile()) expect(readFileSync(file, 'utf8'), file).not.toMatch(/"auths"|"auth"/);
    expect(push.code, push.stderr).toBe(0);
    expect(push.stdout).toContain(`Pushed ${pushedImage}`);

    const run = await berth(deployArgs('--tag', 'v2'));
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(await page()).toMatch(/^200 pushed from /);
  });

  it('answers usage errors with exit 2 and unknown services with exit 1, each in one line naming the code', async () => {
    for (const args of [['deploy', 'web', '--image', DEMO_IMAGE], ['frobnicate'], ['delete', 'web'], deployArgs('--image', DEMO_IMAGE, '--replicas', '0')]) {
      const run = await berth(args);
      expect(run.code, args.join(' ')).toBe(2);
      expect(run.stderr, args.join(' ')).toMatch(/^berth: BERTH_USAGE: .+\n$/);
    }
    expect(await berth(['status', 'nope'])).toMatchObject({ code: 1, stdout: '', stderr: "berth: BERTH_SERVICE_NOT_FOUND: Service 'nope' not found\n" });
  });

  it('deletes the service with --yes, and nothing of it is left', async () => {
    const run = await berth(['delete', 'web', '--yes']);
    expect(run.code).toBe(0);
    await waitFor('the service to be gone', async () => (await berth(['status', 'web'])).code === 1, 60_000);
    expect(instanceContainers(t.server.instance, 'label=io.berth.service=web')).toEqual([]);
    expect((await berth(['ls', '--json'])).stdout).toBe('[]\n');
  });
});
