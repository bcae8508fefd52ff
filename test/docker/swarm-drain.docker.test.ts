import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { definition, waitFor, waitForDeployment, type ApiClient } from '../support/docker-harness.js';
import { startSwarmBed, SteadyLoad, taskNodes, type SwarmBed } from '../support/swarm-harness.js';

// Draining a node of a real three-node Swarm while a routed service on it is under load.
let bed: SwarmBed;
let project: ApiClient;

beforeAll(async () => {
  bed = await startSwarmBed({ lab: 2, nodes: 3, basePort: 19310 });
  project = await bed.admin.project('swdrain');
}, 180_000);

afterAll(async () => {
  await bed?.destroy();
});

describe('draining a node', () => {
  it('moves its tasks to the other nodes, new ones healthy first, and fails no request', async () => {
    expect((await project.call('POST', '/services', { name: 'web' })).status).toBe(201);
    const put = await project.call('PUT', '/services/web', definition({ replicas: 2, constraints: ['node.role==worker'] }));
    expect((await waitForDeployment(project, 'web', put.json.deployment)).step).toBe('succeeded');
    expect(await taskNodes(project, 'web')).toEqual(['worker-2', 'worker-3']);

    const load = new SteadyLoad(`${bed.server.gatewayUrl}/swdrain-web/`);
    await load.atLeast(50);
    const started = await bed.admin.call('POST', '/nodes/worker-2/drain');
    expect(started.status).toBe(202);
    expect(started.json.availability).toBe('draining');
    const drained = await waitFor('worker-2 to be drained', async () => {
      const node = (await bed.admin.call('GET', '/nodes/worker-2')).json;
      return node.availability === 'drain' ? node : null;
    }, 90_000, 200);
    await load.atLeast(50);
    const { ok, failures } = await load.stop();

    expect(failures).toEqual([]);
    expect(ok).toBeGreaterThan(100);
    expect(drained.tasks).toBe(0);
    expect(await taskNodes(project, 'web')).toEqual(['worker-3', 'worker-3']);
    const events = (await project.status('web')).events.map((e: { message: string }) => e.message);
    expect(events).toContainEqual(expect.stringMatching(/^moved 1 task off a node being drained \(web-[0-9a-f]{4}\)$/));
    // Swarm itself now keeps the node empty; berth's mark is gone.
    expect(await bed.lab.docker(bed.lab.manager, 'node', 'inspect', 'worker-2', '--format', '{{.Spec.Availability}} {{json .Spec.Labels}}')).toBe('drain {}');
  });

  it('lets the node take tasks again once activated', async () => {
    const activated = await bed.admin.call('POST', '/nodes/worker-2/activate');
    expect(activated.json.availability).toBe('active');
    expect((await project.call('POST', '/services', { name: 'after' })).status).toBe(201);
    const put = await project.call('PUT', '/services/after', definition({ node: 'worker-2' }));
    expect((await waitForDeployment(project, 'after', put.json.deployment)).step).toBe('succeeded');
    expect(await taskNodes(project, 'after')).toEqual(['worker-2']);
  });
});
