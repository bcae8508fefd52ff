import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { labelChanges } from '../../src/cli/commands/nodes.js';
import { NodeDirectory } from '../../src/reconciler/node-directory.js';
import { ADMIN, apiHarness, createProject, type Harness } from '../support/api-harness.js';
import { runBerth } from '../support/cli-runner.js';
import { FakeCluster } from '../support/fake-cluster.js';

let h: Harness;
let cluster: FakeCluster;
let url: string;
let project: string;
let configHome: string;

beforeEach(async () => {
  cluster = new FakeCluster(['manager-1', 'worker-2']);
  h = await apiHarness({ nodes: new NodeDirectory(cluster, { listTasks: async () => [] }, () => {}) });
  project = await createProject(h.app, 'swcli');
  url = await h.app.listen({ port: 0, host: '127.0.0.1' });
  configHome = mkdtempSync(join(tmpdir(), 'berth-cli-nodes-'));
});
afterEach(async () => {
  await h.close();
  rmSync(configHome, { recursive: true, force: true });
});

function berth(argv: string[], token = ADMIN): Promise<{ code: number; out: string; err: string }> {
  return runBerth(argv, { url, token, configHome });
}

describe('berth node', () => {
  it('ls shows each node’s name, id, address, status, availability, memory and tasks', async () => {
    await cluster.setLabels(cluster.nodes[1]?.id ?? '', { gpu: 'yes' });
    const { code, out } = await berth(['node', 'ls']);
    expect(code).toBe(0);
    const lines = out.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^NAME\s+ID\s+ADDRESS\s+STATUS\s+AVAILABILITY\s+MEMORY RESERVED\s+TASKS\s+LABELS$/);
    expect(lines[1]).toMatch(/^manager-1 \*\s+manager10000\s+10\.0\.0\.1\s+ready\s+active\s+0 \/ 8192 MiB\s+0$/);
    expect(lines[2]).toMatch(/^worker-2\s+worker200000\s+10\.0\.0\.2\s+ready\s+active\s+0 \/ 8192 MiB\s+0\s+gpu=yes$/);
  });

  it('drain waits until the node is drained, telling the tasks left to move', async () => {
    const id = cluster.nodes[1]?.id ?? '';
    setTimeout(() => void cluster.setAvailability(id, 'drain'), 300);
    const { code, out } = await berth(['node', 'drain', 'worker-2']);
    expect(code).toBe(0);
    expect(out).toBe('draining worker-2: 0 task(s) left to move\n✓ worker-2 is drained; its tasks run on other nodes\n');
  });

  it('label sets KEY=VALUE and removes KEY-; join-command prints the docker command', async () => {
    expect((await berth(['node', 'label', 'worker-2', 'gpu=yes', 'zone=a'])).out).toBe('worker-2: gpu=yes zone=a\n');
    expect((await berth(['node', 'label', 'worker-2', 'zone-'])).out).toBe('worker-2: gpu=yes\n');
    expect((await berth(['node', 'join-command', '--manager'])).out).toBe('docker swarm join --token SWMTKN-1-manager 10.0.0.1:2377\n');
    expect(() => labelChanges(['gpu'])).toThrow(/neither KEY=VALUE \(set\) nor KEY- \(remove\)/);
  });

  it('needs the admin token', async () => {
    expect(await berth(['node', 'ls'], project)).toMatchObject({ code: 1, err: expect.stringMatching(/^berth: BERTH_ADMIN_REQUIRED: /) });
  });
});
