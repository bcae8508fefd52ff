import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_IMAGE, docker, instanceContainers, startTestServer, waitFor, type TestServer } from '../support/docker-harness.js';
import { berthCli, type CliResult } from '../support/cli-process.js';
import { httpRequest } from '../support/http.js';

// Ports 19160-19163 belong to this file; the project is named col-cli.
const BASE_PORT = 19160;

let t: TestServer;
let work: string;
let token: string;
const pushed: string[] = [];

function berth(...args: string[]): Promise<CliResult> {
  return berthCli(`http://127.0.0.1:${BASE_PORT}`, token, args);
}

/** NMPI's `build --colour C`: an image of the app, pushed to the service's repository tagged with the colour. */
async function build(colour: string, version: string): Promise<void> {
  const dir = join(work, `build-${colour}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'Dockerfile'), `FROM ${DEMO_IMAGE}\nENV GREETING=${version}\n`);
  const push = await berth('push', 'nmpi', dir, '--tag', colour);
  expect(push.code, push.stderr).toBe(0);
  pushed.push(/Pushed (\S+)/.exec(push.stdout)?.[1] ?? '');
}

async function served(colour?: string): Promise<string> {
  const reply = await httpRequest(BASE_PORT + 1, '/col-cli-nmpi/', { headers: colour ? { 'X-Berth-Colour': colour } : {} });
  return reply.status === 200 ? (reply.body.split(' ')[0] as string) : `HTTP ${reply.status}`;
}

const deploy = (colour: string): Promise<CliResult> => berth('deploy', 'nmpi', '--colour', colour, '--tag', colour, '--memory-reservation', '16', '--memory-limit', '32', '--port', '80');

beforeAll(async () => {
  t = await startTestServer({ basePort: BASE_PORT });
  work = mkdtempSync(join(tmpdir(), 'berth-col-cli-'));
  token = (await t.api.project('col-cli')).token;
  expect((await berth('create', 'nmpi', '--health-path', '/health', '--health-interval', '1')).code).toBe(0);
});

afterAll(async () => {
  for (const image of pushed.filter(Boolean)) docker('rmi', '--force', image);
  await t?.destroy();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("NMPI's deploy.py workflow through the CLI", () => {
  it('builds and deploys two colours, switches, redeploys the live one from a new build of its tag, downloads its log and terminates the old one', async () => {
    await build('blue', 'v1');
    const blue = await deploy('blue');
    expect(blue.code, blue.stderr).toBe(0);
    expect(blue.stdout).toMatch(/revision 1 of nmpi colour blue is live at http:\/\/127\.0\.0\.1:19161\/col-cli-nmpi\n$/);
    await build('green', 'v2');
    const green = await deploy('green');
    expect(green.code, green.stderr).toBe(0);
    expect(green.stdout).toContain("is staged: reach it at http://127.0.0.1:19161/col-cli-nmpi with the header 'X-Berth-Colour: green'");
    await waitFor('green by header', async () => (await served('green')) === 'v2');
    expect(await served()).toBe('v1');

    const services = await berth('services');
    const rows = services.stdout.trimEnd().split('\n');
    expect(rows[0]).toMatch(/^NAME\s+IMAGE\s+STATUS\s+URL\s+ID\s+NODE\s+PORTS$/);
    expect(rows[1]).toMatch(/^nmpi-blue\s+\S+\/col-cli\/nmpi:blue\s+live\s+http:\/\/127\.0\.0\.1:19161\/col-cli-nmpi\s+nmpi-blue-[0-9a-f]{4}\s+\S+\s+80\/tcp$/);
    expect(rows[2]).toMatch(/^nmpi-green\s+\S+\/col-cli\/nmpi:green\s+running\s+/);

    const to = await berth('switch', 'nmpi', 'green');
    expect(to.stdout).toMatch(/^✓ nmpi: green is live \(was blue\), switched in [\d.]+ ms/);
    expect(await served()).toBe('v2');

    // NMPI's build + redeploy: a new image under the same tag, pulled again.
    await build('green', 'v3');
    const redeploy = await berth('redeploy', 'nmpi', '--colour', 'green');
    expect(redeploy.code, redeploy.stderr).toBe(0);
    expect(redeploy.stdout).toMatch(/revision 2 of nmpi colour green is live/);
    await waitFor('v3 live', async () => (await served()) === 'v3');

    const log = join(work, 'green.log');
    const logs = await berth('logs', 'nmpi', '--colour', 'green', '--output', log);
    expect(logs.stdout).toMatch(/^wrote \d+ line\(s\) of \d+ task\(s\) to /);
    expect(readFileSync(log, 'utf8')).toMatch(/^nmpi-green-[0-9a-f]{4} \| \S+ \| serving \/www\/col-cli-nmpi on port 80$/m);

    expect((await berth('terminate', 'nmpi', '--colour', 'blue')).code).toBe(0);
    await waitFor('blue gone', async () => instanceContainers(t.server.instance, 'label=io.berth.colour=blue').length === 0);
    expect((await berth('services', '--json')).stdout).not.toContain('nmpi-blue');
    expect(await served('blue')).toBe('v3');
  });
});
