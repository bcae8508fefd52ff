import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseDefinition, type DefinitionInput } from '../../src/domain/definition.js';
import { DEFAULT_HEALTH_CHECK } from '../../src/domain/health-check.js';
import type { Service } from '../../src/domain/model.js';
import type { Route, RouteRejection } from '../../src/gateway/gateway.js';
import { renderRouteTable } from '../../src/gateway/route-table-file.js';
import { ContainerView } from '../../src/reconciler/container-view.js';
import type { HealthMonitor, MonitoredTask, TaskHealth } from '../../src/reconciler/health-monitor.js';
import type { ImageSource } from '../../src/reconciler/image-source.js';
import { Reconciler, type ReconcilerDeps, type ReconcilerOptions } from '../../src/reconciler/reconciler.js';
import { openDatabase } from '../../src/store/database.js';
import { Store } from '../../src/store/store.js';
import { FakeRuntime } from '../support/fake-runtime.js';

const INSTANCE = 'unit0001';
const OPTIONS: ReconcilerOptions = {
  instance: INSTANCE,
  capacityMiB: null,
  healthTimeoutMs: 400,
  drainMs: 30,
  stopGraceMs: 100,
  idlePeriodMs: 50,
  busyPeriodMs: 5,
  logLinesKept: 50,
  logMaxBytes: 1024,
  concurrency: 4,
  imagesKept: 2,
};

/**
 * Tasks listening on port 81 never pass their health check. Tasks in `unprobed` wait for
 * their first probe; tasks in `refusing` are new and have failed theirs.
 */
class PortHealth implements HealthMonitor {
  private watched = new Map<string, MonitoredTask>();
  readonly unprobed = new Set<string>();
  readonly refusing = new Set<string>();
  /** Tasks whose probes fail from now on. */
  readonly failing = new Set<string>();
  watch(tasks: readonly MonitoredTask[]): void {
    this.watched = new Map(tasks.map((t) => [t.task, t]));
  }
  health(task: string): TaskHealth {
    const t = this.watched.get(task);
    if (!t || this.unprobed.has(task)) return { state: 'initial' };
    if (this.refusing.has(task)) return { state: 'initial', description: 'connection refused' };
    if (this.failing.has(task)) return { state: 'unhealthy', description: 'connection refused' };
    return t.port === 81 ? { state: 'unhealthy', description: 'Health checks failed with these codes: [404]' } : { state: 'healthy' };
  }
  onChange(): void {}
  stop(): void {}
}

class RecordingGateway {
  readonly tables: Route[][] = [];
  /** Tables still to refuse, as a gateway that cannot write its table does. */
  refuse = 0;
  async setRoutes(routes: readonly Route[]): Promise<readonly RouteRejection[]> {
    if (this.refuse > 0) {
      this.refuse--;
      throw new Error('table not written');
    }
    // The real gateway's rule: a route it cannot serve is left out, the others are served.
    const { rejected } = renderRouteTable(routes);
    const left = new Set(rejected.map((r) => r.index));
    this.tables.push(routes.filter((_, i) => !left.has(i)));
    return rejected;
  }
  last(): Route[] {
    return this.tables[this.tables.length - 1] ?? [];
  }
}

/** `image` stands for a shared image; `container-tag` for one in the service's own repository. */
const images: ImageSource = {
  resolve: async (p, s, d) => {
    const reference = d.image ?? `repo/${p}/${s}:${d.containerTag}`;
    return { reference, engineName: reference, auth: null, alwaysPull: false };
  },
  verify: async () => {},
  owned: (p, s, d) => (d.image === null ? `repo/${p}/${s}:${d.containerTag}` : null),
};

let runtime: FakeRuntime;
let store: Store;
let gateway: RecordingGateway;
let reconciler: Reconciler;
let removed: Service[];
/** Added to the reconciler's clock, to move it past a deadline. */
let skewMs: number;

/** Counts the reconciler's passes, so a test can wait for one instead of for a time. */
let passCount = 0;

function reconcilerDeps(health: HealthMonitor = new PortHealth()): ReconcilerDeps {
  const clock = { now: () => Date.now() + skewMs };
  return {
    store,
    runtime,
    containers: new ContainerView(runtime, { 'io.berth.instance': INSTANCE }, clock),
    gateway,
    health,
    images,
    clock,
    logger: { info: () => {}, warn: () => {}, error: (m) => console.error(m) },
    onServiceRemoved: async (service) => {
      removed.push(service);
    },
    onPass: () => {
      passCount++;
    },
  };
}

function newReconciler(health: HealthMonitor = new PortHealth()): Reconciler {
  return new Reconciler(reconcilerDeps(health), OPTIONS);
}

/** Waits until `n` more passes have ended. */
async function passes(n: number): Promise<void> {
  const target = passCount + n;
  await until(`${n} passes`, () => passCount >= target);
}

beforeEach(() => {
  runtime = new FakeRuntime();
  store = new Store(openDatabase(':memory:'), { now: () => Date.now() });
  store.projects.create('exp');
  gateway = new RecordingGateway();
  removed = [];
  skewMs = 0;
  reconciler = newReconciler();
  reconciler.start();
});

afterEach(async () => {
  await reconciler.stop();
});

const base: DefinitionInput = { image: 'demo:1', 'memory-reservation': 16, 'memory-limit': 32, 'container-port': 80, environment: [{ name: 'K', value: 'secret' }] };

function createService(name = 'web'): Service {
  return store.services.create('exp', name, DEFAULT_HEALTH_CHECK);
}

function put(service: Service, overrides: Partial<DefinitionInput> = {}): number {
  return store.transaction(() => {
    const revision = store.revisions.add(service.id, parseDefinition({ ...base, ...overrides }));
    const current = store.services.byId(service.id)?.currentRevision ?? null;
    return store.deployments.create(service.id, revision.number, current).id;
  });
}

async function until<T>(what: string, check: () => T | undefined | null | false, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    reconciler.kick();
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

async function finished(id: number) {
  return until(`deployment ${id}`, () => {
    const d = store.deployments.get(id);
    return d?.finishedAt ? d : null;
  });
}

function messages(service: Service): string[] {
  return store.events.list(service.id, 100).map((e) => e.message);
}

describe('the reconciler', () => {
  it('deploys replicas with berth’s labels and CONTEXT_ROOT, then routes to them', async () => {
    const web = createService();
    const d = await finished(put(web, { replicas: 2 }));
    expect(d.step).toBe('succeeded');
    const running = runtime.running({ 'io.berth.instance': INSTANCE });
    expect(running).toHaveLength(2);
    for (const c of running) {
      expect(c.spec.labels).toMatchObject({ 'io.berth.managed': 'true', 'io.berth.project': 'exp', 'io.berth.service': 'web', 'io.berth.revision': '1' });
      expect(c.spec.env).toEqual(['K=secret', 'CONTEXT_ROOT=/exp-web']);
      expect(c.spec.memoryLimitBytes).toBe(32 * 1024 * 1024);
      expect(c.spec.memoryReservationBytes).toBe(16 * 1024 * 1024);
      // On the project's own network, with few capabilities and bounded CPU and processes.
      expect(c.spec.network).toBe(`berth-${INSTANCE}-exp`);
      expect(c.spec.capabilities).toEqual(expect.arrayContaining(['NET_BIND_SERVICE', 'SETUID']));
      expect(c.spec.capabilities).not.toContain('NET_RAW');
      expect(c.spec).toMatchObject({ cpuLimit: 1, pidsLimit: 512 });
    }
    expect(runtime.networks.get(`berth-${INSTANCE}-exp`)).toMatchObject({ 'io.berth.project': 'exp', 'io.berth.instance': INSTANCE });
    await until('routes', () => gateway.last().find((r) => r.prefix === '/exp-web' && r.targets.length === 2));
    expect(store.services.byId(web.id)?.currentRevision).toBe(1);
    await until('steady', () => messages(web)[0] === 'reached a steady state');
    expect(messages(web).join('\n')).not.toContain('secret');
  });

  it('serves every other service when two services claim one path, and says so once on the later one', async () => {
    const errors: string[] = [];
    await reconciler.stop();
    // A store written before addresses were unique can hold project "exp" with "b-c" and project "exp-b" with "c".
    store.projects.create('exp-b');
    const first = createService('b-c');
    store.db.prepare('UPDATE services SET qualified_name = NULL WHERE id = ?').run(first.id);
    const second = store.services.create('exp-b', 'c', DEFAULT_HEALTH_CHECK);
    const other = createService('other');
    reconciler = new Reconciler({ ...reconcilerDeps(), logger: { info: () => {}, warn: () => {}, error: (m) => errors.push(m) } }, OPTIONS);
    reconciler.start();
    const deployments = [put(first), put(second), put(other)];
    for (const id of deployments) expect((await finished(id)).step).toBe('succeeded');
    await until('both served routes', () => {
      const table = gateway.last();
      return table.find((r) => r.prefix === '/exp-b-c')?.targets.length === 1 && table.find((r) => r.prefix === '/exp-other')?.targets.length === 1;
    });
    // The older service keeps the path; the newer one is told why it is not served.
    const served = gateway.last().find((r) => r.prefix === '/exp-b-c');
    const firstTask = runtime.running({ 'io.berth.service': 'b-c' })[0];
    expect(served?.targets[0]?.host).toBe(firstTask?.ip);
    for (let i = 0; i < 5; i++) await passes(1);
    const told = messages(second).filter((m) => m.startsWith('the gateway does not serve /exp-b-c'));
    expect(told).toEqual(['the gateway does not serve /exp-b-c: prefix /exp-b-c is already the route of another service']);
    expect(errors).toEqual([]);
  });

  it('switches traffic to a new revision without ever leaving the route empty', async () => {
    const web = createService();
    await finished(put(web));
    await until('first routes', () => gateway.last()[0]?.targets.length === 1);
    const before = gateway.tables.length;
    const d = await finished(put(web, { image: 'demo:2' }));
    expect(d.step).toBe('succeeded');
    await until('old task gone', () => runtime.running({ 'io.berth.service': 'web' }).length === 1 && runtime.running({ 'io.berth.revision': '2' }).length === 1);
    for (const table of gateway.tables.slice(before)) {
      expect(table.find((r) => r.prefix === '/exp-web')?.targets.length).toBeGreaterThan(0);
    }
    expect([...runtime.containers.values()].filter((c) => c.state !== 'running')).toEqual([]);
  });

  it('rolls back a revision that never becomes healthy and keeps the old one serving', async () => {
    const web = createService();
    await finished(put(web));
    const d = await finished(put(web, { 'container-port': 81 }));
    expect(d.step).toBe('failed');
    expect(d.reason).toMatch(/did not become healthy within 0 s \(web-[0-9a-f]{4}: Health checks failed with these codes: \[404\]\)/);
    expect(store.services.byId(web.id)?.currentRevision).toBe(1);
    expect(store.revisions.get(web.id, 2)?.status).toBe('FAILED');
    expect(runtime.running({ 'io.berth.service': 'web' }).map((c) => c.spec.labels['io.berth.revision'])).toEqual(['1']);
    expect(messages(web)[0]).toBe(`deployment of revision 2 failed: ${d.reason}`);
  });

  it('supersedes a deployment that a newer PUT replaces', async () => {
    const web = createService();
    const first = put(web, { 'container-port': 81 });
    const second = put(web);
    expect((await finished(first)).step).toBe('superseded');
    expect((await finished(second)).step).toBe('succeeded');
    expect(store.services.byId(web.id)?.currentRevision).toBe(2);
  });

  it('fails a deployment that does not fit the memory capacity', async () => {
    runtime.capacityBytes = 100 * 1024 * 1024;
    const web = createService();
    const d = await finished(put(web, { replicas: 4, 'memory-reservation': 30, 'memory-limit': 30 }));
    expect(d.step).toBe('failed');
    expect(d.reason).toContain('not enough memory: 4 task(s) × 30 MiB reserved = 120 MiB, but only 100 MiB of 100 MiB is unreserved');
    expect(runtime.containers.size).toBe(0);
  });

  it('fails a deployment whose image is missing, with the reason', async () => {
    const web = createService();
    const d = await finished(put(web, { image: 'nope:1' }));
    expect(d.step).toBe('failed');
    expect(d.reason).toBe('image nope:1 is not available: pull access denied for nope:1');
  });

  it('replaces a task that crashes, records why, keeps its logs and removes its container', async () => {
    const web = createService();
    await finished(put(web));
    const [victim] = runtime.running({ 'io.berth.service': 'web' });
    runtime.exit(victim!.id, 137, true);
    await until('replacement', () => runtime.running({ 'io.berth.service': 'web' }).length === 1 && !runtime.containers.has(victim!.id));
    const task = victim!.spec.labels['io.berth.task'];
    expect(messages(web)).toContain(`task ${task} exited with code 137: out of memory (limit 32 MiB)`);
    expect(store.taskLogs.list(web.id, 5)[0]).toMatchObject({ taskName: task, exitCode: 137 });
    expect(store.services.byId(web.id)?.crashCount).toBe(1);
  });

  it('replaces a task of a service at rest once it turns unhealthy, however young', async () => {
    await reconciler.stop();
    const health = new PortHealth();
    reconciler = newReconciler(health);
    reconciler.start();
    const web = createService();
    await finished(put(web));
    await until('steady', () => store.services.byId(web.id)?.steady);
    const [victim] = runtime.running({ 'io.berth.service': 'web' });
    const task = victim!.spec.labels['io.berth.task']!;
    // The task now looks younger than the health timeout: only having been healthy gets it replaced.
    skewMs = -60_000;
    health.failing.add(task);
    await until('replacement', () => !runtime.containers.has(victim!.id) && runtime.running({ 'io.berth.service': 'web' }).length === 1);
    expect(messages(web)).toContain(`task ${task} is unhealthy (connection refused); replacing it`);
  });

  it('takes a dead task out of the gateway when the engine reports it, before the next pass', async () => {
    const web = createService();
    await finished(put(web, { replicas: 2 }));
    await until('both targets', () => gateway.last()[0]?.targets.length === 2);
    const [victim, survivor] = runtime.running({ 'io.berth.service': 'web' });
    const deadIp = victim!.ip;
    runtime.exit(victim!.id, 137);
    // No await since the event: no pass can have run.
    expect(gateway.last()).toEqual([{ prefix: '/exp-web', targets: [{ host: survivor!.ip, port: 80 }] }]);
    await until('replacement', () => gateway.last()[0]?.targets.length === 2);
    expect(gateway.last()[0]?.targets.map((t) => t.host)).not.toContain(deadIp);
  });

  it('gives the gateway a table it refused again, though nothing changed since', async () => {
    const web = createService();
    await finished(put(web));
    await until('routes', () => gateway.last()[0]?.targets.length === 1);
    gateway.refuse = 1;
    createService('idle');
    await until('the refused table given again', () => gateway.last().find((r) => r.prefix === '/exp-idle'));
    expect(gateway.refuse).toBe(0);
  });

  it('keeps routing to the tasks it adopted on a restart until their first probe, and no longer than 5 s', async () => {
    const web = createService();
    await finished(put(web, { replicas: 2 }));
    await reconciler.stop();
    const [kept, failing] = runtime.running({ 'io.berth.service': 'web' });
    const task = (c: typeof kept) => c!.spec.labels['io.berth.task'] as string;
    const health = new PortHealth();
    health.unprobed.add(task(kept)).add(task(failing));
    gateway = new RecordingGateway();
    reconciler = newReconciler(health);
    reconciler.start();
    await until('a table', () => gateway.tables.length > 0);
    expect(gateway.tables[0]).toEqual([{ prefix: '/exp-web', targets: expect.arrayContaining([{ host: kept!.ip, port: 80 }, { host: failing!.ip, port: 80 }]) }]);
    // Its first probe fails: out at once.
    health.unprobed.delete(task(failing));
    health.refusing.add(task(failing));
    await until('the failing task withdrawn', () => gateway.last()[0]?.targets.length === 1);
    expect(gateway.last()[0]?.targets).toEqual([{ host: kept!.ip, port: 80 }]);
    // Never probed at all: out once the start-up allowance has passed.
    skewMs = 6_000;
    await until('the unprobed task withdrawn', () => gateway.last()[0]?.targets.length === 0);
  });

  it('routes a task started after a restart as soon as it is healthy, while adopted ones still wait for a probe', async () => {
    const web = createService();
    const api = createService('api');
    await finished(put(web));
    await finished(put(api));
    await reconciler.stop();
    const [adopted] = runtime.running({ 'io.berth.service': 'web' });
    const health = new PortHealth();
    health.unprobed.add(adopted!.spec.labels['io.berth.task'] as string);
    gateway = new RecordingGateway();
    reconciler = newReconciler(health);
    reconciler.start();
    const [victim] = runtime.running({ 'io.berth.service': 'api' });
    runtime.exit(victim!.id, 137);
    const route = (prefix: string) => gateway.last().find((r) => r.prefix === prefix)?.targets ?? [];
    await until('the replacement routed', () => route('/exp-api').length === 1 && route('/exp-api')[0]?.host !== victim!.ip, 2_000);
    expect(route('/exp-web')).toEqual([{ host: adopted!.ip, port: 80 }]);
  });

  it('backs off exponentially when a task keeps crashing', async () => {
    const web = createService();
    await finished(put(web));
    const times: number[] = [];
    for (let i = 0; i < 3; i++) {
      const [task] = runtime.running({ 'io.berth.service': 'web' });
      runtime.exit(task!.id, 1);
      times.push(Date.now());
      await until(`restart ${i + 1}`, () => runtime.running({ 'io.berth.service': 'web' }).length === 1, 10_000);
      times[i] = Date.now() - (times[i] as number);
    }
    // immediate, then ~1 s, then ~2 s
    expect(times[0]).toBeLessThan(times[1] as number);
    expect(times[1]).toBeGreaterThanOrEqual(900);
    expect(times[2]).toBeGreaterThanOrEqual(1900);
    expect(store.services.byId(web.id)?.crashCount).toBe(3);
  });

  it('resumes a deployment after the reconciler is replaced mid-way, without duplicates', async () => {
    const web = createService();
    await finished(put(web, { replicas: 2 }));
    await reconciler.stop();
    const id = put(web, { image: 'demo:2', replicas: 2 });
    // a crashed server left the deployment after starting one of its tasks
    store.deployments.advance(store.deployments.get(id)!, 'starting');
    reconciler = newReconciler();
    reconciler.start();
    expect((await finished(id)).step).toBe('succeeded');
    await until('two tasks of revision 2 only', () => {
      const running = runtime.running({ 'io.berth.service': 'web' });
      return running.length === 2 && running.every((c) => c.spec.labels['io.berth.revision'] === '2');
    });
  });

  it('removes orphans of its own instance and never touches another instance’s containers', async () => {
    const foreign = runtime.addForeign({ 'io.berth.managed': 'true', 'io.berth.instance': 'someone-else', 'io.berth.service-id': '1', 'io.berth.revision': '1', 'io.berth.task': 'x-0000' });
    const orphan = runtime.addForeign({ 'io.berth.managed': 'true', 'io.berth.instance': INSTANCE, 'io.berth.service-id': '999', 'io.berth.revision': '1', 'io.berth.task': 'y-0000' });
    await until('orphan removed', () => !runtime.containers.has(orphan));
    expect(runtime.containers.has(foreign)).toBe(true);
  });

  it('keeps the images of the newest revisions and removes older ones the service owns', async () => {
    const web = createService();
    for (const tag of ['a', 'b', 'c', 'd']) runtime.images.add(`repo/exp/web:${tag}`);
    for (const tag of ['a', 'b', 'c', 'd']) {
      expect((await finished(put(web, { image: undefined, 'container-tag': tag }))).step).toBe('succeeded');
    }
    expect([...runtime.images].filter((i) => i.startsWith('repo/')).sort()).toEqual(['repo/exp/web:c', 'repo/exp/web:d']);
    // shared images are never removed
    expect(runtime.images.has('demo:1')).toBe(true);
  });

  it('subscribes to the engine’s events again when the stream ends, as when the engine restarts', async () => {
    const web = createService();
    await finished(put(web));
    expect(runtime.subscriptions).toBe(1);
    runtime.endEventStreams();
    await until('a new subscription', () => runtime.subscriptions === 2, 5000);
    const [task] = runtime.running({ 'io.berth.service': 'web' });
    runtime.exit(task!.id, 1);
    await until('the task replaced', () => runtime.running({ 'io.berth.service': 'web' }).length === 1 && !runtime.containers.has(task!.id));
  });

  it('deletes a draining service once its tasks are gone', async () => {
    const web = createService();
    await finished(put(web, { replicas: 2 }));
    store.services.setStatus(web.id, 'DRAINING');
    await until('service removed', () => store.services.byId(web.id) === null, 5000);
    expect(runtime.containers.size).toBe(0);
    expect(removed.map((s) => s.name)).toEqual(['web']);
    await until('route removed', () => !gateway.last().some((r) => r.prefix === '/exp-web'));
  });
});
