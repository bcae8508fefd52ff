import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { berthCli, type CliResult } from '../support/cli-process.js';
import { ADMIN_TOKEN, DEMO_IMAGE, type ApiClient } from '../support/docker-harness.js';
import { startSwarmBed, type SwarmBed } from '../support/swarm-harness.js';

// A user's session with `berth node` and `berth deploy --node/--constraint` on a real Swarm
// of three engines, each command its own process, as a user runs it.
let bed: SwarmBed;
let project: ApiClient;

beforeAll(async () => {
  bed = await startSwarmBed({ lab: 5, nodes: 3, basePort: 19340 });
  project = await bed.admin.project('swcli');
}, 180_000);

afterAll(async () => {
  await bed?.destroy();
});

async function admin(...args: string[]): Promise<CliResult> {
  return berthCli(bed.admin.base, ADMIN_TOKEN, args, { timeoutMs: 110_000 });
}

async function user(...args: string[]): Promise<CliResult> {
  return berthCli(bed.admin.base, project.token, args, { timeoutMs: 110_000 });
}

/** The lines of a table whose first column is `name`, split into cells. */
function rowOf(table: string, name: string): string[] {
  const line = table.split('\n').find((l) => l.split(/\s{2,}/)[0]?.replace(/ \*$/, '') === name);
  if (!line) throw new Error(`no row ${name} in:\n${table}`);
  return line.split(/\s{2,}/);
}

const DEPLOY = ['--image', DEMO_IMAGE, '--memory-reservation', '16', '--memory-limit', '32', '--port', '80'];

describe('berth node and placement from the CLI', () => {
  it('lists the nodes, prints the join command, and labels a node', async () => {
    const ls = await admin('node', 'ls');
    expect(ls.code, ls.stderr).toBe(0);
    expect(ls.stdout.split('\n')[0]).toMatch(/^NAME\s+ID\s+ADDRESS\s+STATUS\s+AVAILABILITY\s+MEMORY RESERVED\s+TASKS\s+LABELS/);
    expect(rowOf(ls.stdout, 'manager-1')[0]).toBe('manager-1 *');
    expect(rowOf(ls.stdout, 'worker-2').slice(2, 5)).toEqual(['10.250.5.12', 'ready', 'active']);
    expect(rowOf(ls.stdout, 'worker-3')[5]).toMatch(/^0 \/ \d+ MiB$/);

    const join = await admin('node', 'join-command');
    expect(join.stdout).toMatch(/^docker swarm join --token SWMTKN-1-\S+ 10\.250\.5\.11:2377\n$/);
    expect((await admin('node', 'join-command', '--manager')).stdout).not.toBe(join.stdout);

    expect((await admin('node', 'label', 'worker-3', 'gpu=yes')).code).toBe(0);
    expect(rowOf((await admin('node', 'ls')).stdout, 'worker-3')[7]).toBe('gpu=yes');
    // A project's token does not reach the nodes.
    const refused = await user('node', 'ls');
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/admin/i);
  });

  it('deploys by constraint and by node, and status and node ls say where the tasks run', async () => {
    expect((await user('create', 'gpu')).code).toBe(0);
    const gpu = await user('deploy', 'gpu', ...DEPLOY, '--replicas', '2', '--constraint', 'node.labels.gpu==yes');
    expect(gpu.code, gpu.stdout + gpu.stderr).toBe(0);
    const status = await user('status', 'gpu');
    expect(status.stdout).toMatch(/\bNODE\b/);
    const taskLines = status.stdout.split('\n').filter((l) => /^\s+gpu-[0-9a-f]{4}\s/.test(l));
    expect(taskLines).toHaveLength(2);
    for (const line of taskLines) expect(line).toMatch(/\bworker-3\b/);

    expect((await user('create', 'pinned')).code).toBe(0);
    const pinned = await user('deploy', 'pinned', ...DEPLOY, '--node', 'worker-2');
    expect(pinned.code, pinned.stdout + pinned.stderr).toBe(0);
    expect((await user('status', 'pinned')).stdout).toMatch(/^\s+pinned-[0-9a-f]{4}\s.*\bworker-2\b/m);
    const ls = (await admin('node', 'ls')).stdout;
    expect(rowOf(ls, 'worker-3')[5]).toMatch(/^32 \/ \d+ MiB$/);
    expect(rowOf(ls, 'worker-3')[6]).toBe('2');
    expect(rowOf(ls, 'worker-2')[6]).toBe('1');

    // A node no task can go to fails the deployment with the nodes' names.
    const nowhere = await user('deploy', 'pinned', ...DEPLOY, '--node', 'worker-9');
    expect(nowhere.code).not.toBe(0);
    expect(nowhere.stdout + nowhere.stderr).toMatch(/none matching node\.hostname==worker-9 is up and active among manager-1, worker-2, worker-3/);
  });

  it('drains a node and activates it again', async () => {
    expect((await user('create', 'web')).code).toBe(0);
    expect((await user('deploy', 'web', ...DEPLOY, '--replicas', '2', '--constraint', 'node.role==worker')).code).toBe(0);
    expect((await user('delete', 'gpu', '--yes')).code).toBe(0);
    expect((await user('delete', 'pinned', '--yes')).code).toBe(0);
    const drain = await admin('node', 'drain', 'worker-2');
    expect(drain.code, drain.stdout + drain.stderr).toBe(0);
    const drained = rowOf((await admin('node', 'ls')).stdout, 'worker-2');
    expect([drained[4], drained[6]]).toEqual(['drain', '0']);
    const lines = (await user('status', 'web')).stdout.split('\n').filter((l) => /^\s+web-[0-9a-f]{4}\s.*\brunning\b/i.test(l));
    expect(lines).toHaveLength(2);
    for (const line of lines) expect(line).toMatch(/\bworker-3\b/);

    expect((await admin('node', 'activate', 'worker-2')).code).toBe(0);
    expect(rowOf((await admin('node', 'ls')).stdout, 'worker-2')[4]).toBe('active');
    // A node that is up cannot be removed.
    const rm = await admin('node', 'rm', 'worker-2');
    expect(rm.code).not.toBe(0);
    expect(rm.stderr).toBe("berth: BERTH_INVALID_NODE_REQUEST: node worker-2 is not down and can't be removed\n");
  });

  it('runs two colours of a service on different nodes when asked, and berth services shows where', async () => {
    expect((await user('create', 'nmpi')).code).toBe(0);
    const colour = (name: string, ...extra: string[]) =>
      user('deploy', 'nmpi', '--colour', name, ...DEPLOY, '--env', `GREETING=${name}`, '--constraint', 'node.role==worker', ...extra);
    const blue = await colour('blue');
    expect(blue.code, blue.stdout + blue.stderr).toBe(0);
    const green = await colour('green', '--colour-spread');
    expect(green.code, green.stdout + green.stderr).toBe(0);

    const table = (await user('services')).stdout;
    const blueNode = rowOf(table, 'nmpi-blue')[5];
    const greenNode = rowOf(table, 'nmpi-green')[5];
    expect([blueNode, greenNode].sort()).toEqual(['worker-2', 'worker-3']);
    expect(rowOf(table, 'nmpi-blue')[2]).toBe('live');
    expect(JSON.parse((await user('services', '--json')).stdout)).toContainEqual(expect.objectContaining({ name: 'nmpi-green', node: greenNode }));

    expect((await user('switch', 'nmpi', 'green')).code).toBe(0);
    expect(await (await fetch(`${bed.server.gatewayUrl}/swcli-nmpi/`)).text()).toMatch(/^green from /);
    // A third colour kept off both workers has nowhere to go, and says so.
    const red = await colour('red', '--colour-spread');
    expect(red.code).not.toBe(0);
    expect(red.stdout + red.stderr).toMatch(/no node can take its tasks: none matching node\.role==worker and node\.id!=\w+ and node\.id!=\w+ is up and active/);
  });
});
