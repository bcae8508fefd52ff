import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { INSTANCE, PortHealth, RecordingGateway, ReconcilerHarness } from '../support/reconciler-harness.js';

let h: ReconcilerHarness;

beforeEach(() => {
  h = new ReconcilerHarness();
});

afterEach(async () => {
  await h.close();
});

const task = (c: { spec: { labels: Readonly<Record<string, string>> } } | undefined) => c?.spec.labels['io.berth.task'] as string;

describe('the reconciler, one pass at a time', () => {
  it('deploys replicas with berth’s labels and CONTEXT_ROOT, then routes to them', async () => {
    const web = h.createService();
    const d = await h.finished(h.put(web, { replicas: 2 }));
    expect(d.step).toBe('succeeded');
    const running = h.runtime.running({ 'io.berth.instance': INSTANCE });
    expect(running).toHaveLength(2);
    for (const c of running) {
      expect(c.spec.labels).toMatchObject({ 'io.berth.managed': 'true', 'io.berth.project': 'exp', 'io.berth.kind': 'service', 'io.berth.service': 'web', 'io.berth.revision': '1' });
      expect(c.spec.env).toEqual(['K=secret', 'CONTEXT_ROOT=/exp-web']);
      expect(c.spec.memoryLimitBytes).toBe(32 * 1024 * 1024);
      expect(c.spec.memoryReservationBytes).toBe(16 * 1024 * 1024);
      // On the project's own network, with few capabilities and bounded CPU and processes.
      expect(c.spec.networks).toEqual([{ name: `berth-${INSTANCE}-exp`, aliases: [] }]);
      expect(c.spec.capabilities).toEqual(expect.arrayContaining(['NET_BIND_SERVICE', 'SETUID']));
      expect(c.spec.capabilities).not.toContain('NET_RAW');
      expect(c.spec).toMatchObject({ cpuLimit: 1, pidsLimit: 512 });
    }
    expect(h.runtime.networks.get(`berth-${INSTANCE}-exp`)).toMatchObject({ 'io.berth.project': 'exp', 'io.berth.instance': INSTANCE });
    await h.until('routes', () => h.gateway.last().find((r) => r.prefix === '/exp-web' && r.targets.length === 2));
    expect(h.store.services.byId(web.id)?.currentRevision).toBe(1);
    await h.until('steady', () => h.messages(web)[0] === 'reached a steady state');
    expect(h.messages(web).join('\n')).not.toContain('secret');
  });

  it('serves every other service when two services claim one path, and says so once on the later one', async () => {
    // A store written before addresses were unique can hold project "exp" with "b-c" and project "exp-b" with "c".
    h.store.projects.create('exp-b');
    const first = h.createService('b-c');
    h.store.db.prepare('UPDATE services SET qualified_name = NULL WHERE id = ?').run(first.id);
    const second = h.createService('c', 'exp-b');
    const other = h.createService('other');
    for (const id of [h.put(first), h.put(second), h.put(other)]) expect((await h.finished(id)).step).toBe('succeeded');
    await h.until('both served routes', () => {
      const table = h.gateway.last();
      return table.find((r) => r.prefix === '/exp-b-c')?.targets.length === 1 && table.find((r) => r.prefix === '/exp-other')?.targets.length === 1;
    });
    // The older service keeps the path; the newer one is told why it is not served.
    const served = h.gateway.last().find((r) => r.prefix === '/exp-b-c');
    expect(served?.targets[0]?.host).toBe(h.runtime.running({ 'io.berth.service': 'b-c' })[0]?.address);
    for (let i = 0; i < 5; i++) await h.pass();
    const told = h.messages(second).filter((m) => m.startsWith('the gateway does not serve /exp-b-c'));
    expect(told).toEqual(['the gateway does not serve /exp-b-c: prefix /exp-b-c is already the route of another service']);
    expect(h.errors).toEqual([]);
  });

  it('switches traffic to a new revision without ever leaving the route empty', async () => {
    const web = h.createService();
    await h.finished(h.put(web));
    await h.until('first routes', () => h.gateway.last()[0]?.targets.length === 1);
    const before = h.gateway.tables.length;
    const d = await h.finished(h.put(web, { image: 'demo:2' }));
    expect(d.step).toBe('succeeded');
    await h.until('old task gone', () => h.runtime.running({ 'io.berth.service': 'web' }).length === 1 && h.runtime.running({ 'io.berth.revision': '2' }).length === 1);
    for (const table of h.gateway.tables.slice(before)) {
      expect(table.find((r) => r.prefix === '/exp-web')?.targets.length).toBeGreaterThan(0);
    }
    expect([...h.runtime.containers.values()].filter((c) => c.state !== 'running')).toEqual([]);
  });

  it('rolls back a revision that never becomes healthy, says what its probe got at once, and keeps the old one serving', async () => {
    const web = h.createService();
    await h.finished(h.put(web));
    const id = h.put(web, { 'container-port': 81 });
    // Before the health timeout: the failing answer is an event of the deployment at once.
    const told = await h.until('the first failed probe told', () => h.messages(web).find((m) => /answered 404$/.test(m)), { stepMs: 1 });
    expect(told).toMatch(/^task web-[0-9a-f]{4}: GET \/exp-web\/ answered 404$/);
    expect(h.store.deployments.get(id)?.finishedAt).toBeNull();
    const d = await h.finished(id);
    expect(d.step).toBe('failed');
    expect(d.reason).toMatch(/did not become healthy within 0 s \(web-[0-9a-f]{4}: Health checks failed with these codes: \[404\]\)/);
    expect(h.store.services.byId(web.id)?.currentRevision).toBe(1);
    expect(h.store.revisions.get(web.id, 2)?.status).toBe('FAILED');
    expect(h.runtime.running({ 'io.berth.service': 'web' }).map((c) => c.spec.labels['io.berth.revision'])).toEqual(['1']);
    expect(h.messages(web)[0]).toBe(`deployment of revision 2 failed: ${d.reason}`);
    expect(h.messages(web).filter((m) => m.endsWith('answered 404'))).toHaveLength(1);
  });

  it('tells nothing while a new task only refuses connections: it is still starting', async () => {
    h.restart(new PortHealth());
    const web = h.createService();
    const id = h.put(web);
    await h.until('a task', () => h.runtime.running({ 'io.berth.service': 'web' }).length === 1);
    h.health.refusing.add(task(h.runtime.running({ 'io.berth.service': 'web' })[0]));
    for (let i = 0; i < 5; i++) await h.pass();
    expect(h.messages(web).some((m) => m.includes('GET /exp-web/'))).toBe(false);
    expect(h.store.deployments.get(id)?.step).toBe('health-wait');
  });

  it('supersedes a deployment that a newer PUT replaces', async () => {
    const web = h.createService();
    const first = h.put(web, { 'container-port': 81 });
    const second = h.put(web);
    expect((await h.finished(first)).step).toBe('superseded');
    expect((await h.finished(second)).step).toBe('succeeded');
    expect(h.store.services.byId(web.id)?.currentRevision).toBe(2);
  });

  it('fails a deployment that does not fit the memory capacity', async () => {
    h.runtime.capacityBytes = 100 * 1024 * 1024;
    const web = h.createService();
    const d = await h.finished(h.put(web, { replicas: 4, 'memory-reservation': 30, 'memory-limit': 30 }));
    expect(d.step).toBe('failed');
    expect(d.reason).toContain('not enough memory: 4 task(s) × 30 MiB reserved = 120 MiB, but only 100 MiB of 100 MiB is unreserved');
    expect(h.runtime.containers.size).toBe(0);
  });

  it('fails a deployment whose image is missing, with the reason', async () => {
    const web = h.createService();
    const d = await h.finished(h.put(web, { image: 'nope:1' }));
    expect(d.step).toBe('failed');
    expect(d.reason).toBe('image nope:1 is not available: pull access denied for nope:1');
  });

  it('replaces a task that crashes, records why, keeps its logs and removes its container', async () => {
    const web = h.createService();
    await h.finished(h.put(web));
    const [victim] = h.runtime.running({ 'io.berth.service': 'web' });
    h.runtime.exit(victim!.id, 137, true);
    await h.until('replacement', () => h.runtime.running({ 'io.berth.service': 'web' }).length === 1 && !h.runtime.containers.has(victim!.id));
    expect(h.messages(web)).toContain(`task ${task(victim)} exited with code 137: out of memory (limit 32 MiB)`);
    expect(h.store.taskLogs.list(web.id, 5)[0]).toMatchObject({ taskName: task(victim), exitCode: 137 });
    expect(h.store.services.byId(web.id)?.crashCount).toBe(1);
  });

  it('replaces a task of a service at rest once it turns unhealthy, however young', async () => {
    const web = h.createService();
    await h.finished(h.put(web));
    await h.until('steady', () => h.store.services.byId(web.id)?.steady);
    const [victim] = h.runtime.running({ 'io.berth.service': 'web' });
    // Far younger than the health timeout: only having been healthy gets it replaced.
    h.health.failing.add(task(victim));
    h.health.changed();
    await h.until('replacement', () => !h.runtime.containers.has(victim!.id) && h.runtime.running({ 'io.berth.service': 'web' }).length === 1, { stepMs: 1 });
    expect(h.messages(web)).toContain(`task ${task(victim)} is unhealthy (connection refused); replacing it`);
  });

  it('takes a dead task out of the gateway when the runtime reports it, before the next pass', async () => {
    const web = h.createService();
    await h.finished(h.put(web, { replicas: 2 }));
    await h.until('both targets', () => h.gateway.last()[0]?.targets.length === 2);
    const [victim, survivor] = h.runtime.running({ 'io.berth.service': 'web' });
    const dead = victim!.address;
    h.runtime.exit(victim!.id, 137);
    // No pass has run since the event.
    expect(h.gateway.last()).toEqual([{ prefix: '/exp-web', targets: [{ host: survivor!.address, port: 80 }] }]);
    await h.until('replacement', () => h.gateway.last()[0]?.targets.length === 2);
    expect(h.gateway.last()[0]?.targets.map((t) => t.host)).not.toContain(dead);
  });

  it('gives the gateway a table it refused again, though nothing changed since', async () => {
    const web = h.createService();
    await h.finished(h.put(web));
    await h.until('routes', () => h.gateway.last()[0]?.targets.length === 1);
    h.gateway.refuse = 1;
    h.createService('idle');
    await h.until('the refused table given again', () => h.gateway.last().find((r) => r.prefix === '/exp-idle'));
    expect(h.gateway.refuse).toBe(0);
  });

  it('makes the table again when anything it is made from changes, and only then', async () => {
    const web = h.createService();
    await h.finished(h.put(web));
    await h.until('steady', () => h.store.services.byId(web.id)?.steady);
    await h.pass();
    const tables = h.gateway.tables.length;
    for (let i = 0; i < 5; i++) await h.pass();
    expect(h.gateway.tables.length).toBe(tables);
    // A health change alone: the task leaves the table.
    const [only] = h.runtime.running({ 'io.berth.service': 'web' });
    h.health.unprobed.add(task(only));
    h.health.changed();
    await h.pass();
    expect(h.gateway.last()[0]?.targets).toEqual([]);
  });

  it('keeps routing to the tasks it adopted on a restart until their first probe, and no longer than 5 s', async () => {
    const web = h.createService();
    await h.finished(h.put(web, { replicas: 2 }));
    await h.reconciler.stop();
    const [kept, failing] = h.runtime.running({ 'io.berth.service': 'web' });
    const health = new PortHealth();
    health.unprobed.add(task(kept)).add(task(failing));
    h.gateway = new RecordingGateway();
    h.restart(health);
    await h.pass();
    expect(h.gateway.tables[0]).toEqual([{ prefix: '/exp-web', targets: expect.arrayContaining([{ host: kept!.address, port: 80 }, { host: failing!.address, port: 80 }]) }]);
    // Its first probe fails: out at once.
    health.unprobed.delete(task(failing));
    health.refusing.add(task(failing));
    health.changed();
    await h.pass();
    expect(h.gateway.last()[0]?.targets).toEqual([{ host: kept!.address, port: 80 }]);
    // Never probed at all: out once the start-up allowance has passed.
    h.clock.advance(6_000);
    await h.pass();
    expect(h.gateway.last()[0]?.targets).toEqual([]);
  });

  it('routes a task started after a restart as soon as it is healthy, while adopted ones still wait for a probe', async () => {
    const web = h.createService();
    const api = h.createService('api');
    await h.finished(h.put(web));
    await h.finished(h.put(api));
    await h.reconciler.stop();
    const [adopted] = h.runtime.running({ 'io.berth.service': 'web' });
    const health = new PortHealth();
    health.unprobed.add(task(adopted));
    h.gateway = new RecordingGateway();
    h.restart(health);
    const [victim] = h.runtime.running({ 'io.berth.service': 'api' });
    h.runtime.exit(victim!.id, 137);
    const route = (prefix: string) => h.gateway.last().find((r) => r.prefix === prefix)?.targets ?? [];
    await h.until('the replacement routed', () => route('/exp-api').length === 1 && route('/exp-api')[0]?.host !== victim!.address, { stepMs: 1 });
    expect(route('/exp-web')).toEqual([{ host: adopted!.address, port: 80 }]);
  });

  it('backs off exponentially when a task keeps crashing: at once, then after 1 s, then 2 s', async () => {
    const web = h.createService();
    await h.finished(h.put(web));
    const restartedAfter: number[] = [];
    for (let i = 0; i < 3; i++) {
      const [victim] = h.runtime.running({ 'io.berth.service': 'web' });
      h.runtime.exit(victim!.id, 1);
      const crashedAt = h.clock.now();
      await h.until(`restart ${i + 1}`, () => h.runtime.running({ 'io.berth.service': 'web' }).length === 1, { stepMs: 10, passes: 400 });
      restartedAfter.push(h.clock.now() - crashedAt);
    }
    expect(restartedAfter[0]).toBeLessThanOrEqual(10);
    expect(restartedAfter[1]).toBeGreaterThanOrEqual(1_000);
    expect(restartedAfter[1]).toBeLessThanOrEqual(1_010);
    expect(restartedAfter[2]).toBeGreaterThanOrEqual(2_000);
    expect(restartedAfter[2]).toBeLessThanOrEqual(2_010);
    expect(h.store.services.byId(web.id)?.crashCount).toBe(3);
  });

  it('resumes a deployment after the reconciler is replaced mid-way, without duplicates', async () => {
    const web = h.createService();
    await h.finished(h.put(web, { replicas: 2 }));
    await h.reconciler.stop();
    const id = h.put(web, { image: 'demo:2', replicas: 2 });
    // A crashed server left the deployment after its pending step.
    h.store.deployments.advance(h.store.deployments.get(id)!, 'starting');
    h.restart();
    expect((await h.finished(id)).step).toBe('succeeded');
    await h.until('two tasks of revision 2 only', () => {
      const running = h.runtime.running({ 'io.berth.service': 'web' });
      return running.length === 2 && running.every((c) => c.spec.labels['io.berth.revision'] === '2');
    });
  });

  it('removes orphans of its own instance and never touches another instance’s tasks', async () => {
    const foreign = h.runtime.addForeign({ 'io.berth.managed': 'true', 'io.berth.instance': 'someone-else', 'io.berth.service-id': '1', 'io.berth.revision': '1', 'io.berth.task': 'x-0000' });
    const orphan = h.runtime.addForeign({ 'io.berth.managed': 'true', 'io.berth.instance': INSTANCE, 'io.berth.service-id': '999', 'io.berth.revision': '1', 'io.berth.task': 'y-0000' });
    await h.until('orphan removed', () => !h.runtime.containers.has(orphan));
    expect(h.runtime.containers.has(foreign)).toBe(true);
  });

  it('keeps the images of the newest revisions and removes older ones the service owns', async () => {
    const web = h.createService();
    for (const tag of ['a', 'b', 'c', 'd']) h.runtime.images.add(`repo/exp/web:${tag}`);
    for (const tag of ['a', 'b', 'c', 'd']) {
      expect((await h.finished(h.put(web, { image: undefined, 'container-tag': tag }))).step).toBe('succeeded');
    }
    expect([...h.runtime.images].filter((i) => i.startsWith('repo/')).sort()).toEqual(['repo/exp/web:c', 'repo/exp/web:d']);
    // Shared images are never removed.
    expect(h.runtime.images.has('demo:1')).toBe(true);
  });

  it('subscribes to the runtime’s events again when the stream ends, as when the engine restarts', async () => {
    const web = h.createService();
    await h.finished(h.put(web));
    expect(h.runtime.subscriptions).toBe(1);
    h.runtime.endEventStreams();
    // The resubscription waits its (here 1 ms) pause on the real clock.
    for (let i = 0; i < 100 && h.runtime.subscriptions < 2; i++) await new Promise((resolve) => setTimeout(resolve, 2));
    expect(h.runtime.subscriptions).toBe(2);
    const [victim] = h.runtime.running({ 'io.berth.service': 'web' });
    h.runtime.exit(victim!.id, 1);
    // The event reaches the gateway without a pass.
    expect(h.gateway.last()[0]?.targets).toEqual([]);
  });

  it('deletes a draining service once its tasks are gone', async () => {
    const web = h.createService();
    await h.finished(h.put(web, { replicas: 2 }));
    h.store.services.setStatus(web.id, 'DRAINING');
    await h.until('service removed', () => h.store.services.byId(web.id) === null);
    expect(h.runtime.containers.size).toBe(0);
    expect(h.removed.map((s) => s.name)).toEqual(['web']);
    await h.until('route removed', () => !h.gateway.last().some((r) => r.prefix === '/exp-web'));
  });
});
