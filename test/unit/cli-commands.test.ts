import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Command } from 'commander';
import { buildProgram, runCli } from '../../src/cli/main.js';
import type { DeploymentStep } from '../../src/domain/deployment.js';
import { ADMIN, type Harness } from '../support/api-harness.js';
import {
  berth as runBerth,
  cliSetup,
  cliTeardown,
  terminal as cliTerminal,
  walkNextDeployment as walkDeployment,
  SUCCESS,
  type CliSetup,
  type FakeTerminal,
  type Run,
} from '../support/cli-harness.js';

let setup: CliSetup;
let h: Harness;
let url: string;
let token: string;
let configHome: string;

beforeEach(async () => {
  setup = await cliSetup();
  ({ h, url, token, configHome } = setup);
});
afterEach(async () => cliTeardown(setup));

function terminal(argv: string[], options: { env?: Record<string, string>; tty?: boolean } = {}): FakeTerminal {
  return cliTerminal(setup, argv, options);
}

function berth(argv: string[], options: { env?: Record<string, string>; tty?: boolean } = {}): Promise<Run> {
  return runBerth(setup, argv, options);
}

function serviceId(name: string): number {
  const service = h.store.services.find('exp', name);
  if (!service) throw new Error(`no service ${name}`);
  return service.id;
}

function walkNextDeployment(name: string, steps: DeploymentStep[], reason?: string): Promise<void> {
  return walkDeployment(h, () => serviceId(name), steps, reason);
}

const DEPLOY = ['deploy', 'web', '--image', 'berth-demo/hello:1', '--memory-reservation', '16', '--memory-limit', '32', '--port', '80'];

describe('berth login and project create', () => {
  it('stores the connection that later commands use', async () => {
    const login = await berth(['login', '--url', `${url}/`, '--token', token], { env: { BERTH_URL: '', BERTH_TOKEN: '' } });
    expect(login).toMatchObject({ code: 0, err: '' });
    expect(login.out).toContain(join(configHome, 'berth', 'config.json'));
    expect(await berth(['ls', '--json'], { env: { BERTH_URL: '', BERTH_TOKEN: '' } })).toMatchObject({ code: 0, out: '[]\n' });
  });

  it('refuses a URL that is not http(s) as a usage error', async () => {
    expect(await berth(['login', '--url', 'ftp://x', '--token', 't'])).toMatchObject({ code: 2, err: expect.stringMatching(/^berth: BERTH_USAGE: .*http/) });
  });

  it('prints the bare project token, or {name, token} with --json', async () => {
    const plain = await berth(['project', 'create', 'exp-2'], { env: { BERTH_TOKEN: ADMIN } });
    expect(plain.code).toBe(0);
    expect(plain.out).toMatch(/^\S+\n$/);
    const json = await berth(['project', 'create', 'exp-3', '--json'], { env: { BERTH_TOKEN: ADMIN } });
    expect(JSON.parse(json.out)).toEqual({ name: 'exp-3', token: expect.any(String) });
    const audit = await berth(['audit', '--limit', '5'], { env: { BERTH_TOKEN: ADMIN } });
    expect(audit.out.split('\n')[0]).toMatch(/^TIME\s+ACTOR\s+ACTION\s+TARGET\s+DETAIL$/);
    expect(audit.out).toMatch(/exp-3/);
    expect(await berth(['audit'])).toMatchObject({ code: 1, err: expect.stringMatching(/^berth: BERTH_ADMIN_REQUIRED: /) });
    const again = await berth(['project', 'create', 'exp-3'], { env: { BERTH_TOKEN: ADMIN } });
    expect(again).toMatchObject({ code: 1, err: "berth: BERTH_PROJECT_EXISTS: Project 'exp-3' already exists\n" });
  });
});

describe('berth create, ls, status, events, logs, credentials, delete', () => {
  it('creates a service and lists it as a table and as JSON', async () => {
    const created = await berth(['create', 'web', '--health-path', '/health', '--health-codes', '200-299', '--health-interval', '2']);
    expect(created.code).toBe(0);
    expect(created.out).toContain('http://gw.example:8080/exp-web');
    expect(h.store.services.find('exp', 'web')?.healthCheck.intervalSeconds).toBe(2);

    const table = await berth(['ls']);
    expect(table.out.split('\n')[0]).toMatch(/^NAME\s+STATUS\s+REVISION\s+IMAGE\s+RUNNING\/DESIRED\s+URL$/);
    expect(table.out).toMatch(/web\s+INACTIVE\s+-\s+-\s+0\/0\s+http:\/\/gw\.example:8080\/exp-web/);
    expect(JSON.parse((await berth(['ls', '--json'])).out)).toEqual([
      { name: 'web', status: 'INACTIVE', revision: null, image: null, running: 0, desired: 0, url: 'http://gw.example:8080/exp-web' },
    ]);
  });

  it('reports a status, with --json the raw document', async () => {
    await berth(['create', 'web']);
    const report = await berth(['status', 'web']);
    expect(report.code).toBe(0);
    expect(report.out).toMatch(/Service\s+web\s+INACTIVE/);
    expect(report.out).toMatch(/TARGET HEALTH\s+\/exp-web\/ every 5 s, healthy on 200-399/);
    expect(report.out).toContain('service created');
    expect(JSON.parse((await berth(['status', 'web', '--json'])).out)).toMatchObject({ name: 'web', status: { service_status: 'INACTIVE' } });
  });

  it('prints events and logs', async () => {
    await berth(['create', 'web']);
    expect((await berth(['events', 'web'])).out).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d {2}service created\n$/);
    expect(JSON.parse((await berth(['events', 'web', '--json', '--limit', '1'])).out).events).toHaveLength(1);

    h.observer.streams = [
      { taskName: 'web-new', createdAt: 2, lines: [{ time: new Date(2000), message: 'second task' }] },
      { taskName: 'web-old', createdAt: 1, lines: [{ time: new Date(1000), message: 'first task' }] },
    ];
    const logs = await berth(['logs', 'web', '--tail', '10']);
    expect(logs.out).toBe('web-old | 1970-01-01T00:00:01.000Z | first task\nweb-new | 1970-01-01T00:00:02.000Z | second task\n');
    const followed = await berth(['logs', 'web', '-f', '--json']);
    // The in-process observer ends the stream at once: that is a failure for -f, which only Ctrl-C ends.
    expect(followed.code).toBe(1);
    expect(followed.out.trim().split('\n').map((l) => JSON.parse(l).message)).toEqual(['second task', 'first task']);
    expect(followed.err).toBe('berth: BERTH_STREAM_CLOSED: The server ended the log stream\n');
  });

  it('prints docker credentials and a login command that keeps the password off the command line', async () => {
    await berth(['create', 'web']);
    const creds = await berth(['credentials', 'web']);
    expect(creds.out).toMatch(/repo_uri\s+127\.0\.0\.1:5000\/exp\/web/);
    expect(creds.out).toContain(`printf '%s' 'pa'\\''ss' | docker login -u push-user --password-stdin 127.0.0.1:5000`);
    expect(JSON.parse((await berth(['credentials', 'web', '--json'])).out)).toMatchObject({ user: 'push-user' });
  });

  it('deletes only with --yes when nobody can confirm', async () => {
    await berth(['create', 'web']);
    expect(await berth(['delete', 'web'])).toMatchObject({ code: 2, err: expect.stringMatching(/^berth: BERTH_USAGE: Not deleting 'web' without --yes/) });
    expect(h.store.services.find('exp', 'web')?.status).not.toBe('DRAINING');
    expect(await berth(['delete', 'web', '--yes'])).toMatchObject({ code: 0 });
    expect(h.store.services.find('exp', 'web')?.status).toBe('DRAINING');
  });

  it('asks on a terminal before deleting', async () => {
    await berth(['create', 'web']);
    const t = terminal(['delete', 'web'], { tty: true });
    const running = runCli(t.ctx);
    await sleep(50);
    expect(t.stderr.text).toContain("Delete service 'web'");
    t.stdin.write('n\n');
    expect(await running).toBe(1);
    expect(t.stderr.text).toContain("berth: BERTH_ABORTED: 'web' was not deleted");
    expect(h.store.services.find('exp', 'web')?.status).toBe('INACTIVE');
  });
});

describe('berth deploy', () => {
  beforeEach(async () => {
    await berth(['create', 'web']);
  });

  it('sends the definition, shows the steps and events, and exits 0 when it succeeded', async () => {
    const envFile = join(configHome, 'web.env');
    writeFileSync(envFile, '# settings\nGREETING="from file"\nMODE=dev\n');
    const [run] = await Promise.all([
      berth([...DEPLOY, '--env-file', envFile, '--env', 'MODE=prod', '--env', 'EXTRA=a=b', '--replicas', '2', '--', 'sh', '-c', 'serve']),
      walkNextDeployment('web', SUCCESS),
    ]);
    expect(run.err).toBe('');
    expect(run.code).toBe(0);
    const lines = run.out.trim().split('\n');
    // What led up to the current step first, then the step. How many steps the walk has
    // taken by the CLI's first look depends on how fast the CLI started.
    expect(lines[0]).toMatch(/^\d\d:\d\d:\d\d {2}revision 1 created/);
    const firstStep = lines.findIndex((l) => /^web revision 1: [a-z-]+ \(.+\)$/.test(l));
    expect(firstStep).toBeGreaterThan(0);
    for (const line of lines.slice(0, firstStep)) expect(line).toMatch(/^\d\d:\d\d:\d\d {2}/);
    // Steps quicker than the poll interval show as their events, each once, in order.
    const events = lines.filter((l) => /^\d\d:\d\d:\d\d {2}/.test(l)).map((l) => l.slice(10));
    expect(events).toEqual([expect.stringMatching(/^revision 1 created/), ...SUCCESS.map((s) => `reached ${s}`)]);
    expect(lines.at(-2)).toMatch(/^web revision 1: succeeded \(finished\)$/);
    expect(lines.at(-1)).toMatch(/^✓ deployment \d+ succeeded: revision 1 of web is serving at http:\/\/gw\.example:8080\/exp-web$/);
    expect(run.out).not.toContain('\x1b['); // not a terminal: no colour, no redrawing

    const revision = h.store.revisions.list(serviceId('web'))[0]?.definition;
    expect(revision).toMatchObject({ image: 'berth-demo/hello:1', memoryReservationMiB: 16, memoryLimitMiB: 32, containerPort: 80, replicas: 2, command: ['sh', '-c', 'serve'] });
    expect(revision?.environment).toEqual([
      { name: 'GREETING', value: 'from file' },
      { name: 'MODE', value: 'prod' },
      { name: 'EXTRA', value: 'a=b' },
    ]);
  });

  it('exits 1 with the reason when the deployment failed', async () => {
    const [run] = await Promise.all([berth(DEPLOY), walkNextDeployment('web', ['starting', 'rolling-back', 'failed'], 'task exited with code 3')]);
    expect(run.code).toBe(1);
    expect(run.err).toMatch(/^berth: BERTH_DEPLOYMENT_FAILED: Deployment \d+ of revision 1 failed: task exited with code 3\n$/);
    expect(run.out).toContain('reached rolling-back');
  });

  it('returns at once with --detach', async () => {
    const run = await berth([...DEPLOY, '--detach']);
    expect(run.code).toBe(0);
    expect(run.out).toMatch(/^revision 1, deployment \d+\n/);
    expect(JSON.parse((await berth([...DEPLOY, '--detach', '--json'])).out)).toMatchObject({ name: 'web', revision: 2 });
  });

  it('stops waiting on Ctrl-C without a terminal, exit 1, and says how to follow', async () => {
    const t = terminal(DEPLOY);
    const running = runCli(t.ctx);
    await sleep(200);
    t.interrupt();
    expect(await running).toBe(1);
    expect(t.stderr.text).toMatch(/^berth: BERTH_INTERRUPTED: Stopped waiting; deployment \d+ goes on on the server\. Follow it with 'berth events web -f'/);
    expect(h.store.deployments.open(serviceId('web'))[0]?.step).toBe('pending');
  });

  it('asks on a terminal whether to cancel, cancels on yes and reports the outcome', async () => {
    const t = terminal(DEPLOY, { tty: true });
    const running = runCli(t.ctx);
    await sleep(200);
    // redrawn in place (carriage return, erase line), with colour
    expect(t.stdout.text).toContain('\r\x1b[2K⠋ web revision 1: ');
    expect(t.stdout.text).toContain('\x1b[36mpending\x1b[39m');
    t.interrupt();
    await sleep(50);
    expect(t.stderr.text).toMatch(/Cancel deployment \d+ of web\? \[y\/N\] /);
    t.stdin.write('y\n');
    // the "reconciler" finishes the rollback the cancel started
    const id = serviceId('web');
    for (let i = 0; i < 100 && h.store.deployments.open(id)[0]?.step !== 'rolling-back'; i++) await sleep(10);
    const rolling = h.store.deployments.open(id)[0];
    if (!rolling) throw new Error('no deployment');
    expect(rolling.step).toBe('rolling-back');
    h.store.deployments.advance(rolling, 'cancelled');
    expect(await running).toBe(1);
    expect(t.stderr.text).toMatch(/berth: BERTH_DEPLOYMENT_CANCELLED: Deployment \d+ of revision 1 cancelled: cancelled by request\n$/);
  });

  it('refuses bad flags as usage errors (exit 2) before sending anything', async () => {
    const cases: [string[], RegExp][] = [
      [['deploy', 'web', '--memory-reservation', '16', '--memory-limit', '32', '--port', '80'], /--image REF or --tag TAG/],
      [[...DEPLOY, '--tag', 'v1'], /cannot be used with/],
      [['deploy', 'web', '--image', 'x', '--memory-limit', '32', '--port', '80'], /required option '--memory-reservation <MiB>'/],
      [[...DEPLOY, '--port', '0'], /'--port <port>' argument '0' is invalid/],
      [[...DEPLOY, '--replicas', 'two'], /'--replicas <n>' argument 'two' is invalid/],
      [[...DEPLOY, '--env', 'NOEQUALS'], /--env expects NAME=VALUE/],
      [[...DEPLOY, '--env-file', '/nonexistent/file.env'], /BERTH_ENV_FILE_INVALID: Cannot read --env-file/],
      [[...DEPLOY, 'stray'], /Unexpected argument 'stray'; put the container command after --/],
    ];
    for (const [argv, message] of cases) {
      const run = await berth(argv);
      expect(run.code, argv.join(' ')).toBe(2);
      expect(run.err, argv.join(' ')).toMatch(message);
      expect(run.err.trim().split('\n'), argv.join(' ')).toHaveLength(1);
    }
    const badFile = join(configHome, 'bad.env');
    writeFileSync(badFile, 'A=1\nB\n');
    expect(await berth([...DEPLOY, '--env-file', badFile])).toMatchObject({ code: 2, err: `berth: BERTH_ENV_FILE_INVALID: ${badFile}, line 2: expected NAME=VALUE, got 'B'\n` });
    expect(h.store.revisions.list(serviceId('web'))).toEqual([]);
  });

  it('exits 1 with the server’s code when the server refuses the definition', async () => {
    const run = await berth(['deploy', 'web', '--image', 'x', '--memory-reservation', '64', '--memory-limit', '32', '--port', '80']);
    expect(run.code).toBe(1);
    expect(run.err).toMatch(/^berth: BERTH_INVALID_DEFINITION: 'memory-reservation' \(64 MiB\) may not be greater than 'memory-limit'/);
  });
});

describe('every command', () => {
  it('names the error code in one line on stderr', async () => {
    expect(await berth(['status', 'nope'])).toEqual({ code: 1, out: '', err: "berth: BERTH_SERVICE_NOT_FOUND: Service 'nope' not found\n" });
    expect(await berth(['ls'], { env: { BERTH_TOKEN: 'wrong' } })).toMatchObject({ code: 1, err: 'berth: BERTH_TOKEN_INVALID: Token validation failed\n' });
    expect(await berth(['frobnicate'])).toMatchObject({ code: 2, err: "berth: BERTH_USAGE: unknown command 'frobnicate' (see --help)\n" });
    expect(await berth(['status'])).toMatchObject({ code: 2, err: "berth: BERTH_USAGE: missing required argument 'name' (see --help)\n" });
    expect(await berth(['ls', '--bogus'])).toMatchObject({ code: 2, err: "berth: BERTH_USAGE: unknown option '--bogus' (see --help)\n" });
  });

  it('has --help with an Example section', async () => {
    const t = terminal([]);
    // A group that also runs on its own (`server`, beside `server rotate-key`) is a command too.
    const runnable = (c: Command): boolean => c.commands.length === 0 || c.options.length > 0;
    const commands = buildProgram(t.ctx).commands.flatMap((c) => [...(runnable(c) ? [[c.name()]] : []), ...c.commands.map((s) => [c.name(), s.name()])]);
    expect(commands.map((c) => c.join(' '))).toEqual(expect.arrayContaining(['login', 'project create', 'ls', 'create', 'deploy', 'status', 'logs', 'events', 'delete', 'credentials', 'push', 'audit', 'server', 'server rotate-key']));
    for (const command of commands) {
      const help = await berth([...command, '--help']);
      expect(help.code, command.join(' ')).toBe(0);
      expect(help.out, command.join(' ')).toMatch(/\nExamples?:\n {2}(\$ )?.*berth /);
    }
  });

  it('colours only a terminal, and not when NO_COLOR is set', async () => {
    await berth(['create', 'web']);
    expect((await berth(['ls'], { tty: true })).out).toContain('\x1b[');
    expect((await berth(['ls'], { tty: true, env: { NO_COLOR: '1' } })).out).not.toContain('\x1b[');
    expect((await berth(['ls'])).out).not.toContain('\x1b[');
  });
});
