import { afterEach, describe, expect, it, vi } from 'vitest';
import { serviceSpec, STOP_CONSTRAINT, swarmName } from '../../src/runtime/swarm/service-spec.js';
import { changes, subscribeByPolling } from '../../src/runtime/swarm/swarm-events.js';
import { SwarmExec } from '../../src/runtime/swarm/swarm-exec.js';
import type { ExecSession, TaskExec } from '../../src/runtime/task-exec.js';
import { detailsOf, summaryOf, type NodeState, type SwarmService, type SwarmTask } from '../../src/runtime/swarm/task-view.js';
import type { TaskSpec, TaskSummary } from '../../src/runtime/task-runtime.js';
import { demoTaskSpec } from '../support/docker-harness.js';

const MiB = 1024 * 1024;

describe('a berth task as a Swarm service', () => {
  const spec: TaskSpec = {
    ...demoTaskSpec('berth-abc-p_1-web-1a2b', { 'io.berth.managed': 'true' }),
    memoryReservationBytes: 16 * MiB,
    networks: [{ name: 'berth-abc-p_1', aliases: ['web'] }],
    servedPorts: [80],
    constraints: ['node.labels.gpu==yes'],
  };

  it('is one replica Swarm never restarts, reserving memory, published on its node, on its overlay networks', () => {
    const s = serviceSpec(spec, { image: 'sha256:1234', stopGraceMs: 3000 });
    expect(s.Mode).toEqual({ Replicated: { Replicas: 1 } });
    expect(s.TaskTemplate).toMatchObject({
      RestartPolicy: { Condition: 'none' },
      Resources: { Limits: { MemoryBytes: 32 * MiB, Pids: 512 }, Reservations: { MemoryBytes: 16 * MiB } },
      Placement: { Constraints: ['node.labels.gpu==yes'] },
      Networks: [{ Target: swarmName('berth-abc-p_1'), Aliases: ['web'] }],
      ContainerSpec: { Image: 'sha256:1234', Init: true, CapabilityDrop: ['ALL'], StopGracePeriod: 3e9 },
    });
    // Host mode: the gateway reaches node-address:published-port; no virtual IP (no IPVS needed).
    expect(s.EndpointSpec).toEqual({ Mode: 'dnsrr', Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishMode: 'host' }] });
    expect(s.Labels).toEqual({ 'io.berth.managed': 'true', 'io.berth.swarm.image': 'berth-demo/hello:1' });
  });

  it('gets a name Swarm accepts, distinct for names that only differ where Swarm cannot tell', () => {
    expect(swarmName('berth-abc-p-web-1a2b')).toBe('berth-abc-p-web-1a2b');
    const a = swarmName('berth-abc-p_1-web-1a2b');
    const b = swarmName('berth-abc-p-1-web-1a2b');
    expect(a).toMatch(/^[a-zA-Z0-9-]+$/);
    expect(a).not.toBe(b);
    expect(swarmName(`berth-abc-${'x'.repeat(80)}`).length).toBeLessThanOrEqual(63);
  });
});

const node = (name: string, up = true, evicting = false): NodeState => ({ name, address: `10.0.0.${name.slice(-1)}`, up, evicting });
const NODES = new Map([
  ['n2', node('worker-2')],
  ['n3', node('worker-3', false)],
  ['n4', node('worker-4', true, true)],
]);

function service(stopped = false): SwarmService {
  return {
    ID: 'svc1',
    CreatedAt: '2026-12-02T10:00:00Z',
    Spec: {
      Name: 'berth-abc-p-web-1a2b',
      Labels: { 'io.berth.task': 'web-1a2b', 'io.berth.swarm.image': 'app:1' },
      TaskTemplate: { ContainerSpec: { Image: 'app:1@sha256:00' }, Placement: { Constraints: stopped ? [STOP_CONSTRAINT] : [] } },
    },
  };
}

function task(id: string, state: string, nodeId: string | undefined, extra: Partial<NonNullable<SwarmTask['Status']>> = {}, created = '2026-12-02T10:00:01Z'): SwarmTask {
  return { ID: id, ServiceID: 'svc1', ...(nodeId ? { NodeID: nodeId } : {}), CreatedAt: created, Status: { State: state, Timestamp: '2026-12-02T10:00:05Z', ...extra } };
}

describe('a Swarm service as a berth task', () => {
  it('waits, with Swarm’s reason, until a node takes it', () => {
    const s = summaryOf(service(), [task('t1', 'pending', undefined, { Err: 'no suitable node (insufficient resources on 3 nodes)' })], NODES);
    expect(s).toMatchObject({ state: 'created', address: null, node: null, waiting: 'no suitable node (insufficient resources on 3 nodes)', image: 'app:1' });
    expect(s.labels).toEqual({ 'io.berth.task': 'web-1a2b' });
  });

  it('runs at its node’s address and the port Swarm published', () => {
    const ports = { Ports: [{ TargetPort: 80, PublishedPort: 30001, PublishMode: 'host' }] };
    expect(summaryOf(service(), [task('t1', 'running', 'n2', { PortStatus: ports })], NODES)).toMatchObject({ state: 'running', address: '10.0.0.2', node: 'n2', ports: { 80: 30001 }, evicted: false });
    // On a node being drained it runs on, marked to move.
    expect(summaryOf(service(), [task('t1', 'running', 'n4', { PortStatus: ports })], NODES).evicted).toBe(true);
  });

  it('is lost, not crashed, when its node is down', () => {
    const details = detailsOf(service(), [task('t1', 'running', 'n3')], NODES);
    expect(details).toMatchObject({ state: 'exited', address: null, exitCode: null, lost: 'node worker-3 is down' });
  });

  it('ends with its exit code when stopped by berth, whatever placeholder Swarm scheduled after it', () => {
    const tasks = [
      task('t1', 'shutdown', 'n2', { ContainerStatus: { ExitCode: 143 } }),
      task('t2', 'pending', undefined, { Err: 'no suitable node (scheduling constraints not satisfied on 3 nodes)' }, '2026-12-02T10:00:09Z'),
    ];
    expect(detailsOf(service(true), tasks, NODES)).toMatchObject({ state: 'exited', exitCode: 143, lost: null });
    // Still stopping: it runs until Swarm has stopped it.
    expect(summaryOf(service(true), [task('t1', 'running', 'n2'), tasks[1] as SwarmTask], NODES).state).toBe('running');
  });

  it('tells a crash by its exit code and a refusal by Swarm’s words', () => {
    expect(detailsOf(service(), [task('t1', 'failed', 'n2', { Err: 'task: non-zero exit (3)', ContainerStatus: { ExitCode: 3 } })], NODES)).toMatchObject({ exitCode: 3, lost: null });
    expect(detailsOf(service(), [task('t1', 'rejected', 'n2', { Err: 'No such image: app:1' })], NODES)).toMatchObject({ state: 'exited', lost: 'Swarm refused it: No such image: app:1' });
  });
});

describe('task events from listings', () => {
  const base: TaskSummary = { id: 'a', name: 'a', image: 'i', labels: {}, state: 'created', createdAt: new Date(0), address: null, health: null, node: null };

  it('tells what changed between two listings in the engine’s words', () => {
    const before = new Map([['a', base], ['gone', { ...base, id: 'gone' }]]);
    const now = new Map([
      ['a', { ...base, state: 'running' as const, address: '10.0.0.2', node: 'n2' }],
      ['new', { ...base, id: 'new', state: 'running' as const }],
    ]);
    expect(changes(before, now).map((e) => [e.kind, e.taskId])).toEqual([
      ['started', 'a'],
      ['created', 'new'],
      ['started', 'new'],
      ['removed', 'gone'],
    ]);
    // A task marked to move, or placed, changes nothing but what the view must look at again.
    expect(changes(new Map([['a', base]]), new Map([['a', { ...base, evicted: true }]])).map((e) => e.kind)).toEqual(['health']);
    expect(changes(new Map([['a', base]]), new Map([['a', base]]))).toEqual([]);
  });

  describe('polling', () => {
    afterEach(() => {
      vi.useRealTimers();
    });

    /** Lists `tasks()` on fake timers; tells how many listings each stretch of time made. */
    async function polling(tasks: () => TaskSummary[]) {
      vi.useFakeTimers();
      let listings = 0;
      const subscription = subscribeByPolling(
        () => {
          listings++;
          return Promise.resolve(tasks());
        },
        () => {},
        { periodMs: 250, busyPeriodMs: 25, busyForMs: 1_000 },
      );
      await subscription.delivering;
      return {
        subscription,
        async listingsIn(ms: number): Promise<number> {
          const from = listings;
          await vi.advanceTimersByTimeAsync(ms);
          return listings - from;
        },
      };
    }

    it('lists often while a task waits to run, for a while, then at its usual pace', async () => {
      const { subscription, listingsIn } = await polling(() => [base]);
      expect(await listingsIn(500)).toBe(20);
      // A task that waits longer (one that fits on no node) does not keep the engine busy.
      await listingsIn(500);
      expect(await listingsIn(1_000)).toBe(4);
      subscription.close();
      await subscription.ended;
    });

    it('goes back to its usual pace once the task runs', async () => {
      let state: TaskSummary['state'] = 'created';
      const { subscription, listingsIn } = await polling(() => [{ ...base, state }]);
      expect(await listingsIn(100)).toBe(4);
      state = 'running';
      await listingsIn(25);
      expect(await listingsIn(1_000)).toBe(4);
      subscription.close();
      await subscription.ended;
    });

    it('ends with the error of a listing that failed, so the reconciler can say why', async () => {
      const subscription = subscribeByPolling(() => Promise.reject(new Error('manager unreachable')), () => {}, { periodMs: 250 });
      await expect(subscription.ended).rejects.toThrow('manager unreachable');
    });

    it('lists at its usual pace when no task waits', async () => {
      const { subscription, listingsIn } = await polling(() => [{ ...base, state: 'running' }]);
      expect(await listingsIn(1_000)).toBe(4);
      subscription.close();
      await subscription.ended;
    });
  });
});

describe('commands in Swarm tasks', () => {
  const session = { close: () => {} } as unknown as ExecSession;
  const local = (found: boolean): TaskExec => ({
    exec: () => Promise.resolve(found ? session : null),
    run: (id) => Promise.resolve({ exitCode: 0, stdout: id, stderr: '' }),
  });
  const where = (node: string | null, container: string | null) => ({
    nodeOf: () => Promise.resolve(node),
    containerOf: () => Promise.resolve(container === null ? { node: node ?? 'none' } : { container }),
  });
  const options = { command: ['true'], tty: false };

  it('runs them through the engine of berth’s own node', async () => {
    expect(await new SwarmExec(local(true), where('worker-2', null)).exec({}, options)).toBe(session);
  });

  it('refuses a task on another node by the node’s name, and tells a task that does not run', async () => {
    await expect(new SwarmExec(local(false), where('worker-2', null)).exec({}, options)).rejects.toMatchObject({
      code: 'BERTH_TASK_ON_OTHER_NODE',
      message: expect.stringMatching(/^The task runs on node worker-2;/),
    });
    expect(await new SwarmExec(local(false), where(null, null)).exec({}, options)).toBeNull();
  });

  it('runs a command in a task by its container on berth’s engine, or names the node it is on', async () => {
    expect(await new SwarmExec(local(false), where('manager-1', 'c0ffee')).run('svc', { command: ['true'] })).toMatchObject({ stdout: 'c0ffee' });
    await expect(new SwarmExec(local(false), where('worker-3', null)).run('svc', { command: ['true'] })).rejects.toMatchObject({ code: 'BERTH_TASK_ON_OTHER_NODE' });
  });
});
