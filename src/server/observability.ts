import type { Server } from 'node:http';
import type { ApiMetrics } from '../api/ports.js';
import type { Certificates } from '../domain/certificates.js';
import { MetricsHistory, type HistoryPoint } from '../metrics/history.js';
import { listenForMetrics } from '../metrics/metrics-listener.js';
import { BerthMetrics, type AdmissionKind, type MetricsSink } from '../metrics/metrics.js';
import { ResourceSampler, type SamplerSources } from '../metrics/resource-sampler.js';
import type { ListenAddress } from '../net/listen-address.js';
import type { Logger } from '../reconciler/failure-log.js';
import type { Store } from '../store/store.js';

/** How often tasks are sampled; the charts keep an hour of it. */
const SAMPLE_INTERVAL_MS = 15_000;
const HOUR_POINTS = 3_600_000 / SAMPLE_INTERVAL_MS;

export interface ObservabilityOptions {
  readonly store: Store;
  readonly certificates: () => Certificates;
  /** Where the tasks' usage comes from; null: a runtime that cannot tell (no memory or CPU figures). */
  readonly sampler: Omit<SamplerSources, 'history' | 'logger'> | null;
  readonly listen: ListenAddress | null;
  readonly logger: Logger;
}

/** The metrics, the charts' history, the sampler and the tokenless listener, started and stopped together. */
export class Observability implements ApiMetrics, MetricsSink {
  readonly intervalSeconds = SAMPLE_INTERVAL_MS / 1000;

  private constructor(
    private readonly metrics: BerthMetrics,
    private readonly charts: MetricsHistory,
    private readonly sampler: ResourceSampler | null,
    private listener: Server | null,
  ) {}

  static async start(options: ObservabilityOptions): Promise<Observability> {
    const charts = new MetricsHistory(HOUR_POINTS);
    const sampler = options.sampler && new ResourceSampler({ ...options.sampler, history: charts, logger: options.logger }, SAMPLE_INTERVAL_MS);
    const metrics = new BerthMetrics({ store: options.store, certificates: options.certificates, usage: () => sampler?.usage() ?? new Map() });
    const listener = options.listen && (await listenForMetrics(metrics, options.listen, (error) => options.logger.warn(`metrics: ${error.message}`)));
    sampler?.start();
    return new Observability(metrics, charts, sampler, listener);
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
