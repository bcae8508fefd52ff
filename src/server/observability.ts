import type { Server } from 'node:http';
import type { ApiMetrics } from '../api/ports.js';
import type { Certificates } from '../domain/certificates.js';
import { contextRoot } from '../domain/names.js';
import type { RouteMetricsReport } from '../gateway/route-metrics.js';
import { MetricsHistory, serviceKey, type HistoryPoint } from '../metrics/history.js';
import { listenForMetrics } from '../metrics/metrics-listener.js';
import { BerthMetrics, type AdmissionKind, type MetricsSink } from '../metrics/metrics.js';
import { ResourceSampler, type SamplerSources } from '../metrics/resource-sampler.js';
import { RouteRates, type RouteRate } from '../metrics/route-rates.js';
import type { ListenAddress } from '../net/listen-address.js';
import type { Logger } from '../reconciler/failure-log.js';
import type { Store } from '../store/store.js';

/** How often tasks are sampled; the charts keep an hour of it. */
const SAMPLE_INTERVAL_MS = 15_000;
const HOUR_MS = 3_600_000;

export interface ObservabilityOptions {
  readonly store: Store;
  readonly certificates: () => Certificates;
  /** What the gateway counted per route; null before the gateway exists or without one. */
  readonly routeMetrics: () => Promise<RouteMetricsReport | null>;
  /** Where the tasks' usage comes from; null: a runtime that cannot tell (no memory or CPU figures). */
  readonly sampler: Omit<SamplerSources, 'history' | 'logger' | 'routes'> | null;
  readonly listen: ListenAddress | null;
  readonly logger: Logger;
  /** Default 15 s. */
  readonly sampleIntervalMs?: number;
}

/** The metrics, the charts' history, the sampler and the tokenless listener, started and stopped together. */
export class Observability implements ApiMetrics, MetricsSink {
  private constructor(
    readonly intervalSeconds: number,
    private readonly metrics: BerthMetrics,
    private readonly charts: MetricsHistory,
    private readonly sampler: ResourceSampler | null,
    private listener: Server | null,
  ) {}

  static async start(options: ObservabilityOptions): Promise<Observability> {
    const interval = options.sampleIntervalMs ?? SAMPLE_INTERVAL_MS;
    const charts = new MetricsHistory(Math.ceil(HOUR_MS / interval));
    const rates = new RouteRates();
    const routes = async (): Promise<Map<string, RouteRate>> => {
      const report = await options.routeMetrics();
      if (report === null) return new Map();
      const byPrefix = rates.next(report, Date.now());
      const byService = new Map<string, RouteRate>();
      for (const service of options.store.services.listAll()) {
        const rate = byPrefix.get(contextRoot(service.project, service.name));
        if (rate) byService.set(serviceKey(service.project, service.name), rate);
      }
      return byService;
    };
    const sampler = options.sampler && new ResourceSampler({ ...options.sampler, routes, history: charts, logger: options.logger }, interval);
    const metrics = new BerthMetrics({
      store: options.store,
      certificates: options.certificates,
      usage: () => sampler?.usage() ?? new Map(),
      routes: async () => {
        try {
          return await options.routeMetrics();
        } catch (error) {
          // The rest of the metrics are still worth a scrape; the gateway's part says why it is missing.
          options.logger.warn(`metrics: reading the gateway's route counts failed: ${(error as Error).message}`);
          return null;
        }
      },
    });
    const listener = options.listen && (await listenForMetrics(metrics, options.listen, (error) => options.logger.warn(`metrics: ${error.message}`)));
    sampler?.start();
    return new Observability(interval / 1000, metrics, charts, sampler, listener);
  }

  text(): Promise<{ contentType: string; body: string }> {
    return this.metrics.text();
  }

  history(key: string, since: number): readonly HistoryPoint[] {
    return this.charts.points(key, since);
  }

  passCompleted(durationMs: number): void {
    this.metrics.passCompleted(durationMs);
  }

  admissionRefused(kind: AdmissionKind): void {
    this.metrics.admissionRefused(kind);
  }

  async close(): Promise<void> {
    await this.sampler?.close();
    const listener = this.listener;
    this.listener = null;
    if (listener) await new Promise<void>((resolve) => listener.close(() => resolve()));
  }
}
