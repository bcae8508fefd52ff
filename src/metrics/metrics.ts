import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Certificates } from '../domain/certificates.js';
import type { Store } from '../store/store.js';
import { routeMetricsText, type RouteMetricsReport } from '../gateway/route-metrics.js';
import type { ServiceUsage } from './resource-sampler.js';

/** Why something was refused for lack of memory: a deployment's placement, a job that can never fit, a stack or a database too large. */
export type AdmissionKind = 'service' | 'job' | 'stack' | 'database';

/** What berth's own code tells the metrics as it happens. */
export interface MetricsSink {
  passCompleted(durationMs: number): void;
  admissionRefused(kind: AdmissionKind): void;
}

export interface MetricsSources {
  readonly store: Store;
  readonly certificates: () => Certificates;
  /** The last sample of every service's tasks' memory and CPU. */
  readonly usage: () => ReadonlyMap<string, ServiceUsage>;
  /** What the gateway counted per route; null when it cannot say now. */
  readonly routes: () => Promise<RouteMetricsReport | null>;
}

/** Pass durations: a pass at rest takes a fraction of a millisecond, one that starts tasks seconds. */
const PASS_BUCKETS = [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 15];

/**
 * berth's Prometheus metrics (prom-client). Label values are bounded sets: outcomes, states,
 * kinds, and project and service names (one series per service, as many as there are
 * services); never a path, an id or a task name.
 */
export class BerthMetrics implements MetricsSink {
  readonly registry = new Registry();
  private readonly pass: Histogram;
  private readonly refusals: Counter<'kind'>;

  constructor(private readonly sources: MetricsSources) {
    const registry = this.registry;
    this.pass = new Histogram({ name: 'berth_reconcile_pass_duration_seconds', help: 'Time one reconcile pass took', buckets: PASS_BUCKETS, registers: [registry] });
    this.refusals = new Counter({ name: 'berth_admission_refusals_total', help: 'Work refused because it would not fit the memory berth may reserve', labelNames: ['kind'], registers: [registry] });
    new Counter({
      name: 'berth_deployments_total',
      help: 'Finished deployments of the services that exist, by outcome',
      labelNames: ['outcome'],
      registers: [registry],
      collect() {
        this.reset();
        for (const { step, count } of sources.store.deployments.finishedCounts()) this.inc({ outcome: step }, count);
      },
    });
    new Gauge({
      name: 'berth_jobs',
      help: 'Jobs by state',
      labelNames: ['state'],
      registers: [registry],
      collect() {
        this.reset();
        for (const { status, count } of sources.store.jobs.countsByStatus()) this.set({ state: status }, count);
      },
    });
    new Gauge({
      name: 'berth_backups',
      help: 'Database backups kept, by verdict: verified (restored in a scratch task and checked), failed, or pending',
      labelNames: ['verdict'],
      registers: [registry],
      collect() {
        this.reset();
        for (const verdict of ['verified', 'failed', 'pending'] as const) this.set({ verdict }, 0);
        for (const { status, count } of sources.store.backups.countsByStatus()) this.inc({ verdict: status === 'verified' || status === 'failed' ? status : 'pending' }, count);
      },
    });
    new Gauge({
      name: 'berth_database_last_verified_backup_timestamp_seconds',
      help: 'When each database last had a backup verified (Unix time); alert on its age',
      labelNames: ['project', 'database'],
      registers: [registry],
      collect() {
        this.reset();
        for (const r of sources.store.backups.lastVerified()) this.set({ project: r.project, database: r.database }, r.finishedAt / 1000);
      },
    });
    new Gauge({
      name: 'berth_certificate_expiry_timestamp_seconds',
      help: 'When each managed certificate expires (Unix time)',
      labelNames: ['host'],
      registers: [registry],
      collect() {
        this.reset();
        for (const c of sources.certificates().list()) if (c.notAfter !== null) this.set({ host: c.host }, c.notAfter / 1000);
      },
    });
    new Gauge({
      name: 'berth_task_memory_bytes',
      help: "Memory the service's running tasks use together (page cache left out)",
      labelNames: ['project', 'service'],
      registers: [registry],
      collect() {
        this.reset();
        for (const u of sources.usage().values()) this.set({ project: u.project, service: u.service }, u.memoryBytes);
      },
    });
    new Counter({
      name: 'berth_task_cpu_seconds_total',
      help: "CPU time the service's running tasks have used (a replaced task starts again from 0)",
      labelNames: ['project', 'service'],
      registers: [registry],
      collect() {
        this.reset();
        for (const u of sources.usage().values()) this.inc({ project: u.project, service: u.service }, u.cpuSeconds);
      },
    });
  }

  passCompleted(durationMs: number): void {
    this.pass.observe(durationMs / 1000);
  }

  admissionRefused(kind: AdmissionKind): void {
    this.refusals.inc({ kind });
  }

  /** The text Prometheus scrapes: berth's own metrics, then the gateway's per route (histograms prom-client cannot be set from). */
  async text(): Promise<{ contentType: string; body: string }> {
    const [own, routes] = await Promise.all([this.registry.metrics(), this.sources.routes()]);
    return { contentType: this.registry.contentType, body: routes === null ? own : `${own}${routeMetricsText(routes)}` };
  }
}
