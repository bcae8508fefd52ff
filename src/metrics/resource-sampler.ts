import type { Logger } from '../reconciler/failure-log.js';
import { sleep } from '../process/wait.js';
import type { TaskStats } from '../runtime/task-stats.js';
import type { TaskSummary } from '../runtime/task-runtime.js';
import { serviceKey, type HistoryPoint, type MetricsHistory } from './history.js';

/** The running tasks of one service, added up. */
export interface ServiceUsage {
  readonly project: string;
  readonly service: string;
  readonly memoryBytes: number;
  readonly cpuSeconds: number;
  readonly tasks: number;
}

export interface SamplerSources {
  /** The instance's running service tasks, with their project and service labels. */
  readonly tasks: () => Promise<readonly TaskSummary[]>;
  readonly stats: TaskStats;
  /** The gateway's share of each service's point (rates, latency), by service key; empty without route metrics. */
  readonly routes: () => Promise<ReadonlyMap<string, Omit<HistoryPoint, 'at' | 'memoryBytes'>>>;
  readonly history: MetricsHistory;
  readonly logger: Logger;
  readonly labels: { readonly project: string; readonly service: string };
}

/**
 * Every interval, what each service's tasks use (memory, CPU) and what the gateway saw of it,
 * for the metrics and the dashboard's charts. One loop, stoppable; a failed sample is logged
 * and the next one tried.
 */
export class ResourceSampler {
  private latest: ReadonlyMap<string, ServiceUsage> = new Map();
  private readonly stop = new AbortController();
  private loop: Promise<void> | null = null;

  constructor(
    private readonly sources: SamplerSources,
    private readonly intervalMs: number,
  ) {}

  usage(): ReadonlyMap<string, ServiceUsage> {
    return this.latest;
  }

  start(): void {
    this.loop ??= this.run();
  }

  async close(): Promise<void> {
    this.stop.abort();
    await this.loop;
  }

  /** One sample now: every service's usage, and a chart point for each. */
  async sample(now = Date.now()): Promise<void> {
    const { labels } = this.sources;
    const tasks = (await this.sources.tasks()).filter((t) => t.state === 'running' && t.labels[labels.project] && t.labels[labels.service]);
    const usage = await this.sources.stats.usage(tasks.map((t) => t.id));
    const byService = new Map<string, ServiceUsage>();
    for (const task of tasks) {
      const project = task.labels[labels.project] as string;
      const service = task.labels[labels.service] as string;
      const key = serviceKey(project, service);
      const used = usage.get(task.id);
      const before = byService.get(key) ?? { project, service, memoryBytes: 0, cpuSeconds: 0, tasks: 0 };
      byService.set(key, { ...before, memoryBytes: before.memoryBytes + (used?.memoryBytes ?? 0), cpuSeconds: before.cpuSeconds + (used?.cpuSeconds ?? 0), tasks: before.tasks + 1 });
    }
    this.latest = byService;
    const routes = await this.sources.routes();
    const keys = new Set([...byService.keys(), ...routes.keys()]);
    for (const key of keys) {
      const route = routes.get(key);
      this.sources.history.add(key, {
        at: now,
        memoryBytes: byService.get(key)?.memoryBytes ?? null,
        requestRate: route?.requestRate ?? null,
        errorRate: route?.errorRate ?? null,
        p95Seconds: route?.p95Seconds ?? null,
      });
    }
  }

  private async run(): Promise<void> {
    while (!this.stop.signal.aborted) {
      try {
        await this.sample();
      } catch (error) {
        this.sources.logger.warn(`metrics: sampling the tasks failed: ${(error as Error).message}`);
      }
      await sleep(this.intervalMs, this.stop.signal);
    }
  }
}
