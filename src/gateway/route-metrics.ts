/** Upper bounds of the module's latency buckets, in seconds (ngx_http_berth_metrics_module.c); the last bucket is unbounded. */
export const LATENCY_BOUNDS_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

/** What the gateway counted of one route since nginx started. */
export interface RouteCounters {
  /** The route's prefix, e.g. "/exp-2-web". */
  readonly prefix: string;
  /** Responses by status class: 1xx … 5xx. */
  readonly byClass: readonly [number, number, number, number, number];
  readonly sumSeconds: number;
  /** Requests per latency bucket (not cumulative), the last one slower than every bound. */
  readonly buckets: readonly number[];
}

export interface RouteMetricsReport {
  readonly routes: readonly RouteCounters[];
  /** Requests of routes the gateway had no room to count. */
  readonly dropped: number;
}

/** Reads the module's report; a line that is not one is an error (the module and berth disagree). */
export function parseRouteMetrics(text: string): RouteMetricsReport {
  let dropped = 0;
  const routes: RouteCounters[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const words = line.split(' ');
    if (words[0] === 'dropped') {
      dropped = Number(words[1]);
      continue;
    }
    const numbers = words.slice(1).map(Number);
    if (!words[0]?.startsWith('/') || numbers.length !== 6 + LATENCY_BOUNDS_SECONDS.length + 1 || numbers.some((n) => !Number.isFinite(n) || n < 0)) {
      throw new Error(`the gateway's route metrics have a line berth cannot read: ${line.slice(0, 200)}`);
    }
    routes.push({
      prefix: words[0],
      byClass: numbers.slice(0, 5) as [number, number, number, number, number],
      sumSeconds: (numbers[5] as number) / 1000,
      buckets: numbers.slice(6),
    });
  }
  return { routes, dropped };
}

/** The route metrics as Prometheus text: requests by status class, and the latency histogram. */
export function routeMetricsText(report: RouteMetricsReport): string {
  const lines: string[] = [
    '# HELP berth_route_requests_total Requests the gateway answered for each route, by status class',
    '# TYPE berth_route_requests_total counter',
  ];
  for (const r of report.routes) {
    r.byClass.forEach((count, i) => lines.push(`berth_route_requests_total{route="${label(r.prefix)}",code="${i + 1}xx"} ${count}`));
  }
  lines.push('# HELP berth_route_request_duration_seconds Time from the request to the end of the answer, per route', '# TYPE berth_route_request_duration_seconds histogram');
  for (const r of report.routes) {
    let cumulative = 0;
    LATENCY_BOUNDS_SECONDS.forEach((bound, i) => {
      cumulative += r.buckets[i] ?? 0;
      lines.push(`berth_route_request_duration_seconds_bucket{route="${label(r.prefix)}",le="${bound}"} ${cumulative}`);
    });
    const total = r.buckets.reduce((a, b) => a + b, 0);
    lines.push(`berth_route_request_duration_seconds_bucket{route="${label(r.prefix)}",le="+Inf"} ${total}`);
    lines.push(`berth_route_request_duration_seconds_sum{route="${label(r.prefix)}"} ${r.sumSeconds}`);
    lines.push(`berth_route_request_duration_seconds_count{route="${label(r.prefix)}"} ${total}`);
  }
  lines.push('# HELP berth_route_requests_dropped_total Requests of routes the gateway had no room to count', '# TYPE berth_route_requests_dropped_total counter', `berth_route_requests_dropped_total ${report.dropped}`);
  return `${lines.join('\n')}\n`;
}

/** A route's label: its prefix without the slash (`exp-2-web`); prefixes hold only [A-Za-z0-9._~-]. */
function label(prefix: string): string {
  return prefix.slice(1).replace(/["\\\n]/g, '_');
}

/** What changed between two reports of a route: rate, share of 5xx, and p95 from the buckets. */
export function routeInterval(
  before: RouteCounters | undefined,
  after: RouteCounters,
  seconds: number,
): { requestRate: number; errorRate: number | null; p95Seconds: number | null } {
  const delta = (a: readonly number[], b: readonly number[] | undefined) => a.map((x, i) => Math.max(0, x - (b?.[i] ?? 0)));
  const classes = delta(after.byClass, before?.byClass);
  const buckets = delta(after.buckets, before?.buckets);
  const total = classes.reduce((a, b) => a + b, 0);
  if (total === 0) return { requestRate: 0, errorRate: null, p95Seconds: null };
  const rank = total * 0.95;
  let seen = 0;
  let p95: number | null = null;
  for (let i = 0; i < buckets.length; i++) {
    seen += buckets[i] as number;
    if (seen >= rank) {
      p95 = LATENCY_BOUNDS_SECONDS[i] ?? LATENCY_BOUNDS_SECONDS[LATENCY_BOUNDS_SECONDS.length - 1] ?? null;
      break;
    }
  }
  return { requestRate: total / seconds, errorRate: (classes[4] as number) / total, p95Seconds: p95 };
}
