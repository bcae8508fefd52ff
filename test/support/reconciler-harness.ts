import { parseDefinition, type DefinitionInput } from '../../src/domain/definition.js';
import { DEFAULT_HEALTH_CHECK } from '../../src/domain/health-check.js';
import type { Service } from '../../src/domain/model.js';
import type { Route, RouteRejection } from '../../src/gateway/gateway.js';
import { renderRouteTable } from '../../src/gateway/route-table-file.js';
import { ChangeTracker } from '../../src/reconciler/change-tracker.js';
import { ContainerView } from '../../src/reconciler/container-view.js';
import type { Logger } from '../../src/reconciler/failure-log.js';
import type { HealthMonitor, MonitoredTask, TaskHealth } from '../../src/reconciler/health-monitor.js';
import type { ImageSource } from '../../src/reconciler/image-source.js';
import { Reconciler, type ReconcilerOptions } from '../../src/reconciler/reconciler.js';
import { openDatabase } from '../../src/store/database.js';
import { Store } from '../../src/store/store.js';
import { FakeRuntime } from './fake-runtime.js';
import { testSecretStore } from './test-secrets.js';

export const INSTANCE = 'unit0001';

export const OPTIONS: ReconcilerOptions = {
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
  jobsKept: 3,
  resubscribeMs: 1,
  stackFilesRoot: '/nonexistent/stacks',
};

/** A clock that moves only when the test moves it. */
export class ManualClock {
  constructor(public time = 1_800_000_000_000) {}
  now(): number {
    return this.time;
  }
  advance(ms: number): void {
    this.time += ms;
  }
}

/**
 * Tasks listening on port 81 never pass their health check. Tasks in `unprobed` wait for
 * their first probe; tasks in `refusing` are new and have failed theirs; tasks in `failing`
 * fail from now on. A test that changes a set calls `changed()`, as the prober tells of a change.
 */
export class PortHealth implements HealthMonitor {
  private watched = new Map<string, MonitoredTask>();
  private listeners: (() => void)[] = [];
  readonly unprobed = new Set<string>();
  readonly refusing = new Set<string>();
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
  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }
  changed(): void {
    for (const listener of this.listeners) listener();
  }
  stop(): void {}
}

export class RecordingGateway {
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
export const IMAGES: ImageSource = {
  resolve: async (p, s, d) => {
    const reference = d.image ?? `repo/${p}/${s}:${d.containerTag}`;
    return { reference, engineName: reference, auth: null, alwaysPull: false };
  },
  verify: async () => {},
  owned: (p, s, d) => (d.image === null ? `repo/${p}/${s}:${d.containerTag}` : null),
};

const BASE: DefinitionInput = { image: 'demo:1', 'memory-reservation': 16, 'memory-limit': 32, 'container-port': 80, environment: [{ name: 'K', value: 'secret' }] };

/** A store, a fake runtime and gateway, and a reconciler whose passes the test runs one by one. */
export class ReconcilerHarness {
  readonly clock = new ManualClock();
  readonly runtime = new FakeRuntime();
  readonly store = new Store(openDatabase(':memory:'), this.clock);
  /** Kept across restarts, as the key file is. */
  readonly secrets = testSecretStore(this.store);
  gateway = new RecordingGateway();
  health = new PortHealth();
  readonly removed: Service[] = [];
  readonly errors: string[] = [];
  reconciler: Reconciler;

  constructor(private readonly options: ReconcilerOptions = OPTIONS) {
    this.runtime.now = () => this.clock.now();
    this.store.projects.create('exp');
    this.reconciler = this.make();
  }

  /** A new reconciler over the same store and runtime, as after a server restart. */
  restart(health: PortHealth = new PortHealth()): void {
    this.health = health;
    this.reconciler = this.make();
  }

  private make(): Reconciler {
    const tracker = new ChangeTracker();
    const logger: Logger = { info: () => {}, warn: () => {}, error: (m) => this.errors.push(m) };
    const reconciler = new Reconciler(
      {
        store: this.store,
        runtime: this.runtime,
        containers: new ContainerView(this.runtime, { 'io.berth.instance': INSTANCE }, this.clock, 30_000, tracker),
        tracker,
        gateway: this.gateway,
        health: this.health,
        images: IMAGES,
        clock: this.clock,
        logger,
        onServiceRemoved: async (service) => {
          this.removed.push(service);
        },
        secrets: this.secrets,
      },
      this.options,
    );
    reconciler.listen();
    return reconciler;
  }

  /** Runs one pass, then lets what it started in the background (pulls) settle. */
  async pass(): Promise<void> {
    await this.reconciler.runPass();
    await new Promise((resolve) => setImmediate(resolve));
  }

  /**
   * Runs passes until `check` holds, moving the clock `stepMs` after each: deterministic, and
   * bounded by a number of passes, not by time.
   */
  async until<T>(what: string, check: () => T | undefined | null | false, options: { stepMs?: number; passes?: number } = {}): Promise<T> {
    const most = options.passes ?? 200;
    for (let i = 0; i <= most; i++) {
      const value = check();
      if (value) return value;
      await this.pass();
      this.clock.advance(options.stepMs ?? 10);
    }
    throw new Error(`${what} did not happen within ${most} passes`);
  }

  createService(name = 'web', project = 'exp'): Service {
    return this.store.services.create(project, name, DEFAULT_HEALTH_CHECK);
  }

  put(service: Service, overrides: Partial<DefinitionInput> = {}): number {
    return this.store.transaction(() => {
      const revision = this.store.revisions.add(service.id, parseDefinition({ ...BASE, ...overrides }));
      const current = this.store.services.byId(service.id)?.currentRevision ?? null;
      return this.store.deployments.create(service.id, revision.number, current).id;
    });
  }

  async finished(id: number) {
    return this.until(`deployment ${id} to finish`, () => {
      const d = this.store.deployments.get(id);
      return d?.finishedAt ? d : null;
    });
  }

  messages(service: Service): string[] {
    return this.store.events.list(service.id, 100).map((e) => e.message);
  }

  async close(): Promise<void> {
    await this.reconciler.stop();
  }
}
