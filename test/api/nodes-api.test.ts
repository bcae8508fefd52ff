import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NodeDirectory } from '../../src/reconciler/node-directory.js';
import type { TaskSummary } from '../../src/runtime/task-runtime.js';
import { ADMIN, apiHarness, createProject, type Harness } from '../support/api-harness.js';
import { FakeCluster } from '../support/fake-cluster.js';

let h: Harness;
let cluster: FakeCluster;
let changes: number;
let project: string;

function task(node: string | null, reservation: number, state: TaskSummary['state'] = 'running'): TaskSummary {
  return {
    id: `t${Math.random()}`,
    name: 'x',
    image: 'img',
    labels: { 'io.berth.managed': 'true', 'io.berth.memory-reservation': String(reservation) },
    state,
    createdAt: new Date(),
    address: null,
    health: null,
    node,
  };
}

beforeEach(async () => {
  cluster = new FakeCluster(['manager-1', 'worker-2', 'worker-3']);
  changes = 0;
  const [, w2, w3] = cluster.nodes.map((n) => n.id);
  const tasks = [task(w2 ?? null, 100), task(w2 ?? null, 50), task(w3 ?? null, 10, 'exited'), task(null, 999)];
  const nodes = new NodeDirectory(cluster, { listTasks: async () => tasks }, () => changes++);
  h = await apiHarness({ nodes });
  project = await createProject(h.app, 'swapi');
});

afterEach(async () => {
  await h.close();
});

async function call(method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, token = ADMIN, payload?: Record<string, unknown>): Promise<{ status: number; body: any }> {
  const res = await h.app.inject({ method, url, headers: { 'x-auth-token': token }, ...(payload === undefined ? {} : { payload }) });
  return { status: res.statusCode, body: res.json() };
}

describe('/nodes', () => {
  it("lists every node with the memory and tasks berth's live tasks hold on it", async () => {
    const res = await call('GET', '/nodes');
    expect(res.status).toBe(200);
    expect(res.body.orchestrator).toBe('swarm');
    expect(res.body.nodes.map((n: any) => [n.name, n.role, n.status, n.availability, n.memory_total, n.memory_reserved, n.tasks])).toEqual([
      ['manager-1', 'manager', 'ready', 'active', 8192, 0, 0],
      ['worker-2', 'worker', 'ready', 'active', 8192, 150, 2],
      ['worker-3', 'worker', 'ready', 'active', 8192, 0, 0],
    ]);
    expect((await call('GET', '/nodes/worker-2')).body.id).toBe(cluster.nodes[1]?.id);
    expect((await call('GET', `/nodes/${cluster.nodes[2]?.id.slice(0, 7)}`)).body.name).toBe('worker-3');
  });

  it('is refused to a project token, whatever the route', async () => {
    for (const [method, url, payload] of [
      ['GET', '/nodes', undefined],
      ['GET', '/nodes/worker-2', undefined],
      ['GET', '/nodes/join-command', undefined],
      ['POST', '/nodes/worker-2/drain', undefined],
      ['POST', '/nodes/worker-2/activate', undefined],
      ['PUT', '/nodes/worker-2/labels', { labels: { a: 'b' } }],
      ['DELETE', '/nodes/worker-2', undefined],
    ] as const) {
      const res = await call(method, url, project, payload);
      expect(res.status, `${method} ${url}`).toBe(403);
      expect(res.body.code).toBe('BERTH_ADMIN_REQUIRED');
    }
    expect(cluster.nodes.map((n) => [n.availability, n.labels])).toEqual([
      ['active', {}],
      ['active', {}],
      ['active', {}],
    ]);
    expect(changes).toBe(0);
  });

  it('starts a drain (the node takes no task and is marked), activates, and says who asked in the audit trail', async () => {
    const drained = await call('POST', '/nodes/worker-2/drain');
    expect(drained.status).toBe(202);
    expect(drained.body.availability).toBe('draining');
    expect(cluster.nodes[1]).toMatchObject({ availability: 'pause', draining: true });
    expect(changes).toBe(1);
    const activated = await call('POST', '/nodes/worker-2/activate');
    expect(activated.body.availability).toBe('active');
    const audit = (await call('GET', '/audit')).body.entries.map((e: any) => e.action);
    expect(audit.slice(0, 2)).toEqual(['node.activate', 'node.drain']);
  });

  it('sets and removes labels, and refuses bad ones and berth’s own without changing anything', async () => {
    expect((await call('PUT', '/nodes/worker-3/labels', ADMIN, { labels: { gpu: 'yes', zone: 'a' } })).body.labels).toEqual({ gpu: 'yes', zone: 'a' });
    expect((await call('PUT', '/nodes/worker-3/labels', ADMIN, { labels: { zone: null } })).body.labels).toEqual({ gpu: 'yes' });
    for (const labels of [{ 'io.berth.draining': 'true' }, { 'bad key': 'x' }, { ok: 'has space' }, {}]) {
      const res = await call('PUT', '/nodes/worker-3/labels', ADMIN, { labels });
      expect(res.status, JSON.stringify(labels)).toBe(400);
      expect(res.body.code).toBe('BERTH_INVALID_NODE_REQUEST');
    }
    expect(cluster.nodes[2]?.labels).toEqual({ gpu: 'yes' });
  });

  it('answers 404 for an unknown node, 409 for an ambiguous name, and refuses to remove a node that is up', async () => {
    expect((await call('GET', '/nodes/worker-9')).body.code).toBe('BERTH_NODE_NOT_FOUND');
    cluster.nodes = cluster.nodes.map((n, i) => (i > 0 ? { ...n, name: 'twin' } : n));
    const ambiguous = await call('POST', '/nodes/twin/drain');
    expect([ambiguous.status, ambiguous.body.code]).toEqual([409, 'BERTH_NODE_NAME_AMBIGUOUS']);
    const up = await call('DELETE', `/nodes/${cluster.nodes[1]?.id}`);
    expect([up.status, up.body.code]).toEqual([400, 'BERTH_INVALID_NODE_REQUEST']);
    expect((await call('DELETE', `/nodes/${cluster.nodes[1]?.id}?force=true`)).status).toBe(200);
    expect(cluster.nodes).toHaveLength(2);
  });

  it('gives the join command for a worker or a manager', async () => {
    expect((await call('GET', '/nodes/join-command')).body).toEqual({ role: 'worker', command: 'docker swarm join --token SWMTKN-1-worker 10.0.0.1:2377' });
    expect((await call('GET', '/nodes/join-command?role=manager')).body.role).toBe('manager');
    expect((await call('GET', '/nodes/join-command?role=boss')).status).toBe(400);
  });
});

describe('/nodes without a cluster', () => {
  it('answers that managing nodes needs a Swarm', async () => {
    const plain = await apiHarness();
    try {
      const res = await plain.app.inject({ method: 'GET', url: '/nodes', headers: { 'x-auth-token': ADMIN } });
      expect(res.statusCode).toBe(409);
      expect(res.json().code).toBe('BERTH_NODES_NEED_SWARM');
    } finally {
      await plain.close();
    }
  });
});
