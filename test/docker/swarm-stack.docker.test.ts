import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execInService } from '../../src/client/index.js';
import { waitFor, type ApiClient } from '../support/docker-harness.js';
import { startSwarmBed, taskNodes, type SwarmBed } from '../support/swarm-harness.js';

// A compose stack on a real three-node Swarm: its services on different nodes reach each
// other by name over the stack's overlay network; compose exec reaches the tasks on berth's node,
// where a database runs too.
let bed: SwarmBed;
let project: ApiClient;

beforeAll(async () => {
  bed = await startSwarmBed({ lab: 4, nodes: 3, basePort: 19330 });
  project = await bed.admin.project('swstack');
}, 180_000);

afterAll(async () => {
  await bed?.destroy();
});

// web serves what it last fetched from api, by api's name only: it is healthy once it reached api.
const DUO = `
services:
  api:
    image: berth-demo/hello:1
    environment:
      GREETING: api says hi
    deploy:
      placement:
        constraints: [node.hostname==worker-2]
  web:
    image: berth-demo/hello:1
    command: ["sh", "-c", "mkdir -p /www$$CONTEXT_ROOT; while true; do wget -q -O /tmp/page http://api/swstack-duo-api/ && mv /tmp/page /www$$CONTEXT_ROOT/index.html; sleep 1; done & exec httpd -f -p 80 -h /www"]
    ports: ["80"]
    depends_on: [api]
    deploy:
      placement:
        constraints: [node.hostname==worker-3]
  store:
    image: berth-demo/hello:1
    command: ["sh", "-c", "echo kept > /data/note; exec sleep 3600"]
    volumes: [notes:/data]
volumes:
  notes: {}
`;

/** Runs a command in a service's task over the exec WebSocket; its stdout and exit code. */
async function execIn(service: string, command: string[]): Promise<{ stdout: string; code: number | null }> {
  let stdout = '';
  const connection = await execInService(project.base, project.token, service, { command, tty: false }, (channel, data) => {
    if (channel === 1) stdout += data.toString();
  });
  return { code: await connection.exited, stdout };
}

describe('a stack on a Swarm', () => {
  it('runs its services on the nodes asked, talking by name over the overlay, served through the gateway', async () => {
    const put = await project.call('PUT', '/stacks/duo', { compose: DUO });
    expect(put.status, JSON.stringify(put.json)).toBe(200);
    const answer = await waitFor('web to serve what it got from api', async () => {
      const res = await fetch(`${bed.server.gatewayUrl}/swstack-duo-web/`);
      return res.status === 200 ? res.text() : null;
    }, 90_000, 200);
    expect(answer).toMatch(/^api says hi from [0-9a-f]{12}\n$/);
    expect(await taskNodes(project, 'duo-api')).toEqual(['worker-2']);
    expect(await taskNodes(project, 'duo-web')).toEqual(['worker-3']);

    // The stack's network is an overlay across the nodes, made by berth for this stack alone.
    const networks = await bed.lab.docker(bed.lab.manager, 'network', 'ls', '--filter', 'label=io.berth.stack=duo', '--format', '{{.Driver}} {{.Scope}}');
    expect(networks.split('\n')).toEqual(['overlay swarm']);

    // A task with a volume runs on berth's own node, where berth runs commands in it; a task
    // on another node is out of the reach of berth's engine, and the refusal names the node.
    await waitFor('store to run', async () => (await taskNodes(project, 'duo-store')).length === 1, 60_000, 200);
    expect(await taskNodes(project, 'duo-store')).toEqual(['manager-1']);
    expect(await execIn('duo-store', ['cat', '/data/note'])).toEqual({ code: 0, stdout: 'kept\n' });
    await expect(execIn('duo-web', ['true'])).rejects.toThrow(/The task runs on node worker-3; berth reaches only its own node's tasks/);

    const bad = await project.call('PUT', '/stacks/bad', { compose: DUO.replace('node.hostname==worker-2', 'node.colour==blue') });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.json)).toContain('services.api.deploy.placement.constraints[0]');
  });

  it('runs a database on berth’s own node, reached at the port Swarm published, dumped through berth’s engine', async () => {
    execFileSync('bash', [join(import.meta.dirname, '../../scripts/build-redis-image.sh'), 'redis:7'], { stdio: 'pipe' });
    await bed.lab.loadImages('redis:7');
    expect((await project.call('POST', '/databases', { name: 'cache', engine: 'redis' })).status).toBe(201);
    await waitFor('cache to be ready', async () => (await project.call('GET', '/databases/cache')).json.status === 'ready', 90_000, 250);
    const local = await bed.lab.docker(bed.lab.manager, 'ps', '-q', '--filter', 'label=io.berth.project=swstack', '--filter', 'label=io.berth.role=serve');
    expect(local).not.toBe('');
    const dump = Buffer.from(await (await fetch(`${project.base}/databases/cache/dump`, { headers: { 'x-auth-token': project.token } })).arrayBuffer());
    expect(dump.subarray(0, 5).toString()).toBe('REDIS');
  });
});
