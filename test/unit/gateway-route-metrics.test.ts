import { describe, expect, it } from 'vitest';
import { parseRouteMetrics, routeInterval, routeMetricsText } from '../../src/gateway/route-metrics.js';
import { RouteRates } from '../../src/metrics/route-rates.js';

// 1xx..5xx, sum ms, then 12 bucket counts (≤5, ≤10, ≤25, ≤50, ≤100, ≤250, ≤500, ≤1000, ≤2500, ≤5000, ≤10000 ms, slower).
const REPORT = 'dropped 2\n/p-web 0 90 0 5 5 1234 60 20 10 5 0 0 3 2 0 0 0 0\n/p-api 0 1 0 0 0 7 0 1 0 0 0 0 0 0 0 0 0 0\n';

describe('the gateway’s route metrics', () => {
  it('are read from the module’s report, and a line berth cannot read is an error', () => {
    const report = parseRouteMetrics(REPORT);
    expect(report.dropped).toBe(2);
    expect(report.routes[0]).toEqual({ prefix: '/p-web', byClass: [0, 90, 0, 5, 5], sumSeconds: 1.234, buckets: [60, 20, 10, 5, 0, 0, 3, 2, 0, 0, 0, 0] });
    expect(() => parseRouteMetrics('/p-web 1 2 3\n')).toThrow(/cannot read/);
  });

  it('become Prometheus counters by status class and a cumulative histogram, labelled by route only', () => {
    const text = routeMetricsText(parseRouteMetrics(REPORT));
    expect(text).toContain('berth_route_requests_total{route="p-web",code="5xx"} 5');
    expect(text).toContain('berth_route_request_duration_seconds_bucket{route="p-web",le="0.01"} 80');
    expect(text).toContain('berth_route_request_duration_seconds_bucket{route="p-web",le="+Inf"} 100');
    expect(text).toContain('berth_route_request_duration_seconds_sum{route="p-web"} 1.234');
    expect(text).toContain('berth_route_requests_dropped_total 2');
    const labels = new Set([...text.matchAll(/\{([^}]*)\}/g)].flatMap((m) => [...(m[1] as string).matchAll(/(\w+)="/g)].map((x) => x[1])));
    expect([...labels].sort()).toEqual(['code', 'le', 'route']);
  });

  it('give the charts a rate, a share of 5xx and a p95 per interval, none for the first report', () => {
    const rates = new RouteRates();
    expect(rates.next(parseRouteMetrics(REPORT), 1_000)).toEqual(new Map());
    const later = parseRouteMetrics('/p-web 0 190 0 5 5 2000 150 30 10 5 0 0 3 2 0 0 0 0\n');
    expect(rates.next(later, 11_000).get('/p-web')).toEqual({ requestRate: 10, errorRate: 0, p95Seconds: 0.01 });
    const before = parseRouteMetrics(REPORT).routes[0];
    expect(routeInterval(before, before as NonNullable<typeof before>, 10)).toEqual({ requestRate: 0, errorRate: null, p95Seconds: null });
  });
});
