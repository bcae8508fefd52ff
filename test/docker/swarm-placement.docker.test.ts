import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { definition, waitFor, waitForDeployment, type ApiClient } from '../support/docker-harness.js';
import { startSwarmBed, taskNodes, type SwarmBed } from '../support/swarm-harness.js';

// A real Swarm of three engines in network namespaces (manager-1, worker-2, worker-3): where
// berth's tasks go, what a deployment that fits nowhere says, the nodes API, jobs by memory,
// and images pulled by the nodes from berth's registry with berth's pull credentials.
let bed: SwarmBed;
let project: ApiClient;

beforeAll(async () => {
  bed = await startSwarmBed({ lab: 1, nodes: 3, basePort: 19300 });
  project = await bed.admin.project('swplace');
}, 180_000);

afterAll(async () => {
  await bed?.destroy();
});

async function deploy(api: ApiClient, name: string, overrides: Record<string, unknown>): Promise<any> {
  if ((await api.call('GET', `/services/${name}`)).status === 404) expect((await api.call('POST', '/services', { name })).status).toBe(201);
  const put = await api.call('PUT', `/services/${name}`, definition(overrides));
  expect(put.status, JSON.stringify(put.json)).toBe(200);
  return waitForDeployment(api, name, put.json.deployment, 90_000);
}

describe('berth on a Swarm of three nodes', () => {
  it('runs replicas as Swarm tasks spread over the nodes, shows each task’s node, and serves them all through the gateway', async () => {
    const done = await deploy(project, 'web', { replicas: 2, constraints: ['node.role==worker'] });
    expect(done.step, done.reason).toBe('succeeded');
    expect(await taskNodes(project, 'web')).toEqual(['worker-2', 'worker-3']);

    const status = await project.status('web');
    // The gateway reaches each task where Swarm published it on its node.
    const targets = status.target_health.targets.map((t: { target: string; health: string }) => [t.target, t.health]).sort();
    expect(targets).toEqual([
      ['10.250.1.12', 'healthy'],
      ['10.250.1.13', 'healthy'],
    ]);
    const services = await bed.lab.docker(bed.lab.manager, 'service', 'ls', '--filter', 'label=io.berth.project=swplace', '--format', '{{.Name}} {{.Replicas}}');
    expect(services.split('\n')).toHaveLength(2);

    const answers = new Set<string>();
    await waitFor('both tasks to answer through the gateway', async () => {
      const res = await fetch(`${bed.server.gatewayUrl}/swplace-web/`);
      expect(res.status).toBe(200);
      answers.add(await res.text());
      return answers.size === 2;
    }, 20_000, 10);
  });

  it('fails a deployment that fits on no node, naming every node and its free memory, and one whose placement matches no node', async () => {
    const big = await deploy(project, 'huge', { 'memory-reservation': 40_000, 'memory-limit': 40_000 });
    expect(big.step).toBe('failed');
    for (const node of ['manager-1', 'worker-2', 'worker-3']) expect(big.reason).toMatch(new RegExp(`${node} \\d+ MiB of \\d+ MiB unreserved`));
    expect(big.reason).toMatch(/^not enough memory: 1 task\(s\) × 40000 MiB reserved = 40000 MiB, but no node has room for one/);

    const nowhere = await deploy(project, 'nowhere', { node: 'worker-9' });
    expect(nowhere.step).toBe('failed');
    expect(nowhere.reason).toBe('no node can take its tasks: none matching node.hostname==worker-9 is up and active among manager-1, worker-2, worker-3');

    const bad = await project.call('PUT', '/services/nowhere', definition({ constraints: ['node.colour=blue'] }));
    expect(bad.status).toBe(400);
    expect(bad.json.code).toBe('BERTH_INVALID_PLACEMENT');
  });

  it('places tasks by node labels and by --node', async () => {
    expect((await bed.admin.call('PUT', '/nodes/worker-3/labels', { labels: { gpu: 'yes' } })).status).toBe(200);
    const gpu = await deploy(project, 'gpu', { replicas: 2, constraints: ['node.labels.gpu==yes'] });
    expect(gpu.step, gpu.reason).toBe('succeeded');
    expect(await taskNodes(project, 'gpu')).toEqual(['worker-3', 'worker-3']);

    const pinned = await deploy(project, 'pinned', { node: 'worker-2' });
    expect(pinned.step, pinned.reason).toBe('succeeded');
    expect(await taskNodes(project, 'pinned')).toEqual(['worker-2']);
  });

  it('lists, labels and describes nodes for the admin only', async () => {
    const list = await bed.admin.call('GET', '/nodes');
    expect(list.status).toBe(200);
    expect(list.json.orchestrator).toBe('swarm');
    const byName = Object.fromEntries(list.json.nodes.map((n: any) => [n.name, n]));
    expect(Object.keys(byName).sort()).toEqual(['manager-1', 'worker-2', 'worker-3']);
    expect(byName['manager-1']).toMatchObject({ role: 'manager', leader: true, status: 'ready', availability: 'active', address: '10.250.1.11' });
    expect(byName['worker-3'].labels).toEqual({ gpu: 'yes' });
    expect(byName['worker-3'].tasks).toBeGreaterThanOrEqual(2);
    expect(byName['worker-3'].memory_reserved).toBeGreaterThanOrEqual(32);
    expect(byName['worker-2'].memory_total).toBeGreaterThan(1000);

    const join = await bed.admin.call('GET', '/nodes/join-command?role=worker');
    expect(join.json.command).toMatch(/^docker swarm join --token SWMTKN-\S+ 10\.250\.1\.11:2377$/);

    expect((await bed.admin.call('PUT', '/nodes/worker-3/labels', { labels: { gpu: null, zone: 'b' } })).json.labels).toEqual({ zone: 'b' });
    expect((await bed.admin.call('PUT', '/nodes/worker-3/labels', { labels: { 'io.berth.draining': 'true' } })).status).toBe(400);
    expect((await bed.admin.call('GET', '/nodes/worker-9')).status).toBe(404);
    const up = await bed.admin.call('DELETE', '/nodes/worker-2');
    expect([up.status, up.json.Error]).toEqual([400, "node worker-2 is not down and can't be removed"]);

    // Nodes are the operator's: a project token may neither see nor change them.
    for (const [method, path, body] of [
      ['GET', '/nodes', undefined],
      ['GET', '/nodes/worker-2', undefined],
      ['GET', '/nodes/join-command', undefined],
      ['POST', '/nodes/worker-2/drain', undefined],
      ['POST', '/nodes/worker-2/activate', undefined],
      ['PUT', '/nodes/worker-2/labels', { labels: { x: 'y' } }],
      ['DELETE', '/nodes/worker-2', undefined],
    ] as const) {
      const res = await project.call(method, path, body);
      expect(res.status, `${method} ${path}`).toBe(403);
    }
    expect((await bed.admin.call('GET', '/nodes/worker-2')).json).toMatchObject({ availability: 'active', labels: {} });
  });

  it('places a job on the one node with memory for it, and queues the next until memory frees', async () => {
    // manager-1 and worker-2 each keep 20000 MiB reserved; only worker-3 has room for 15000.
    const hog = await deploy(project, 'hog', { 'memory-reservation': 20_000, 'memory-limit': 20_000, replicas: 2, constraints: ['node.hostname!=worker-3'] });
    expect(hog.step, hog.reason).toBe('succeeded');
    const job = { image: 'berth-demo/hello:1', command: ['sh', '-c', 'sleep 3; echo done'], 'memory-reservation': 15_000, 'memory-limit': 15_000 };
    const first = await project.call('POST', '/jobs', job);
    const second = await project.call('POST', '/jobs', job);
    expect([first.status, second.status]).toEqual([201, 201]);

    const placed = await waitFor('the first job to run on a node', async () => {
      const doc = (await project.call('GET', `/jobs/${first.json.id}`)).json;
      return doc.events.find((e: { message: string }) => /runs on node/.test(e.message))?.message;
    }, 60_000);
    expect(placed).toBe('attempt 1 runs on node worker-3');
    const waiting = (await project.call('GET', `/jobs/${second.json.id}`)).json;
    expect(waiting.status).toBe('queued');
    expect(waiting.reason).toMatch(/^waiting for 15000 MiB on one node; manager-1 \d+ MiB free of \d+, worker-2 \d+ MiB free of \d+, worker-3 \d+ MiB free of \d+$/);

    for (const id of [first.json.id, second.json.id]) {
      const end = await waitFor(`job ${id} to finish`, async () => {
        const doc = (await project.call('GET', `/jobs/${id}`)).json;
        return doc.finished_at ? doc : null;
      }, 90_000);
      expect(end.status).toBe('succeeded');
    }
    expect((await project.call('DELETE', '/services/hog')).status).toBe(200);
  });

  it("lets a node pull a service's image from berth's registry with the service's pull credentials", async () => {
    expect((await project.call('POST', '/services', { name: 'pushed' })).status).toBe(201);
    const creds = (await project.call('GET', '/services/pushed?view=docker')).json;
    const manager = bed.lab.manager;
    await bed.lab.docker(manager, 'tag', 'berth-demo/hello:1', `${creds.repo_uri}:v1`);
    await bed.lab.docker(manager, 'login', '-u', creds.user, '-p', creds.password, creds.proxy_endpoint);
    await bed.lab.docker(manager, 'push', `${creds.repo_uri}:v1`);
    const worker = bed.node('worker-3');
    expect(await bed.lab.docker(worker, 'images', '-q', creds.repo_uri)).toBe('');

    const done = await deploy(project, 'pushed', { image: undefined, 'container-tag': 'v1', node: 'worker-3' });
    expect(done.step, done.reason).toBe('succeeded');
    expect(await taskNodes(project, 'pushed')).toEqual(['worker-3']);
    // The node pulled it itself, by digest, with the ticket berth gave Swarm for the task.
    expect(await bed.lab.docker(worker, 'images', '--digests', '--format', '{{.Repository}}@{{.Digest}}', creds.repo_uri)).toMatch(/@sha256:[0-9a-f]{64}$/);
    expect((await fetch(`${bed.server.gatewayUrl}/swplace-pushed/`)).status).toBe(200);
  });

  it('adopts its Swarm tasks after a restart of the server, serving throughout', async () => {
    const before = (await project.status('web')).tasks.map((t: { task_name: string }) => t.task_name).sort();
    await bed.server.restart();
    expect((await fetch(`${bed.server.gatewayUrl}/swplace-web/`)).status).toBe(200);
    await waitFor('the restarted server to see the tasks healthy', async () => {
      const status = await project.status('web');
      return status.target_health.targets.filter((t: { health: string }) => t.health === 'healthy').length === 2;
    }, 30_000);
    expect((await project.status('web')).tasks.map((t: { task_name: string }) => t.task_name).sort()).toEqual(before);
  });
});
