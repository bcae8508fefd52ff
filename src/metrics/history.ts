/** One point of a service's charts. null: nothing measured for it then. */
export interface HistoryPoint {
  /** Unix ms. */
  readonly at: number;
  readonly memoryBytes: number | null;
  /** Requests per second through the gateway, over the interval before `at`. */
  readonly requestRate: number | null;
  /** Share of those answered 5xx. */
  readonly errorRate: number | null;
  /** p95 latency of those, in seconds (from the gateway's buckets). */
  readonly p95Seconds: number | null;
}

/**
 * The last hour of each service's charts, in memory (no Prometheus needed): a fixed ring of
 * points per service, so memory is bounded by the number of services. A restart starts
 * the charts again.
 */
export class MetricsHistory {
  private readonly series = new Map<string, HistoryPoint[]>();

  constructor(private readonly capacity: number) {}

  add(key: string, point: HistoryPoint): void {
    const points = this.series.get(key) ?? [];
    points.push(point);
    if (points.length > this.capacity) points.splice(0, points.length - this.capacity);
    this.series.set(key, points);
  }

  points(key: string, since: number): HistoryPoint[] {
    return (this.series.get(key) ?? []).filter((p) => p.at >= since);
  }

  /** Forgets services that no longer exist. */
  retain(keys: ReadonlySet<string>): void {
    for (const key of this.series.keys()) if (!keys.has(key)) this.series.delete(key);
  }
}

export function serviceKey(project: string, service: string): string {
  return `${project}/${service}`;
}
