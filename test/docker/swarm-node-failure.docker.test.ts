import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { definition, waitFor, waitForDeployment, type ApiClient } from '../support/docker-harness.js';
import { startSwarmBed, SteadyLoad, taskNodes, type SwarmBed } from '../support/swarm-harness.js';

// A worker of a real three-node Swarm dies (every process of it: engine, containerd, tasks)
// under a routed service's load.
let bed: SwarmBed;
let project: ApiClient;

beforeAll(async () => {
  bed = await startSwarmBed({ lab: 3, nodes: 3, basePort: 19320 });
  project = await bed.admin.project('swfail');
}, 180_000);

afterAll(async () => {
  await bed?.destroy();
});

describe('a node that dies', () => {
  it('has its tasks replaced on the live nodes, says so in plain words, and the route follows them', async () => {
    expect((await project.call('POST', '/services', { name: 'web' })).status).toBe(201);
    const put = await project.call('PUT', '/services/web', definition({ replicas: 2, constraints: ['node.role==worker'] }));
    expect((await waitForDeployment(project, 'web', put.json.deployment)).step).toBe('succeeded');
    expect(await taskNodes(project, 'web')).toEqual(['worker-2', 'worker-3']);

    const load = new SteadyLoad(`${bed.server.gatewayUrl}/swfail-web/`);
    await load.atLeast(50);
    bed.lab.killNode(bed.node('worker-2'));
    const deadAt = Date.now();

    const moved = await waitFor('the event saying where the tasks went', async () => {
      const events = (await project.status('web')).events.map((e: { message: string }) => e.message);
      return events.find((m: string) => m.includes('moved to'));
    }, 90_000, 200);
    expect(moved).toBe('node worker-2 is down; 1 task moved to worker-3');
    await load.atLeast(50);
    const { failures } = await load.stop();
    // The other task served throughout; new requests for the lost one went to it. Only a
    // request that was on the machine as it died can fail: at most one per connection of the
    // load, each sent before the machine was dead.
    expect(failures.length, failures.join(', ')).toBeLessThanOrEqual(load.workers);
    for (const at of load.failedAt) expect(at).toBeLessThanOrEqual(deadAt);

    const status = await project.status('web');
    expect(await taskNodes(project, 'web')).toEqual(['worker-3', 'worker-3']);
    expect(status.target_health.targets.map((t: { target: string }) => t.target)).toEqual(['10.250.3.13', '10.250.3.13']);
    const events = status.events.map((e: { message: string }) => e.message);
    expect(events).toContainEqual(expect.stringMatching(/^node worker-2 is down: task web-[0-9a-f]{4} is lost and replaced$/));
    // A lost task is no crash of the service's: no backoff, no crash loop.
    expect(status.crash_looping).toBe(false);

    const node = (await bed.admin.call('GET', '/nodes/worker-2')).json;
    expect(node).toMatchObject({ status: 'down', tasks: 0 });
    // A dead machine is removed from the Swarm without force.
    expect((await bed.admin.call('DELETE', '/nodes/worker-2')).status).toBe(200);
    expect((await bed.admin.call('GET', '/nodes')).json.nodes.map((n: { name: string }) => n.name).sort()).toEqual(['manager-1', 'worker-3']);
  });
});
