import { routeInterval, type RouteCounters, type RouteMetricsReport } from '../gateway/route-metrics.js';

export interface RouteRate {
  readonly requestRate: number;
  readonly errorRate: number | null;
  readonly p95Seconds: number | null;
}

/** Each route's rates since the report before: the charts' requests, errors and p95. */
export class RouteRates {
  private previous: { at: number; routes: Map<string, RouteCounters> } | null = null;

  next(report: RouteMetricsReport, at: number): Map<string, RouteRate> {
    const routes = new Map(report.routes.map((r) => [r.prefix, r]));
    const before = this.previous;
    this.previous = { at, routes };
    const out = new Map<string, RouteRate>();
    // The first report has no interval: its counts are everything since nginx started.
    if (before === null || at <= before.at) return out;
    const seconds = (at - before.at) / 1000;
    for (const [prefix, counters] of routes) out.set(prefix, routeInterval(before.routes.get(prefix), counters, seconds));
    return out;
  }
}
