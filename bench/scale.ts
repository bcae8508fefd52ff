import { fileURLToPath } from 'node:url';
import { definition, type Api } from './lib/api.js';
import { BenchServer } from './lib/bench-server.js';
import type { BenchContext } from './lib/context.js';
import type { PassTimes } from './lib/server-host.js';
import { containersWithLabel, runningWithLabel } from './lib/docker.js';
import { formatNumber } from './lib/figures.js';
import { sleep } from '../src/process/wait.js';
import { forEachLimited, nowMs, run } from './lib/process.js';
import type { ProbeCost } from './lib/probe-cost.js';
import { median } from './lib/stats.js';
import { renderTable } from './lib/table.js';
import { runWrk } from './lib/wrk.js';
import { DEFAULT_HEALTH_CHECK } from '../src/domain/health-check.js';
import { contextRoot } from '../src/domain/names.js';
import { LABEL } from '../src/reconciler/labels.js';
import { joinPath } from '../src/reconciler/service-routes.js';

// Ports 17650-17661 for the default sizes: each size's server takes 4 from 17650 up.
const BASE_PORT = 17650;
const PORTS_PER_SERVER = 4;
/**
 * Passes are timed in rounds a second apart, and each round gives its median: a pass takes
 * about a millisecond, so one burst of passes measures the machine's load in that moment
 * as much as the pass. Within a round the sizes take turns every SLICE_PASSES passes, so
 * that each size's passes are spread over the same fraction of a second: the machine's
 * speed changed within a second (BENCHMARKS.md). A round before them is not counted: the
 * first passes after a deploy were the slowest round at every size (the deploy's garbage,
 * code not yet optimised).
 */
const PASS_ROUNDS = 7;
const SLICES_PER_ROUND = 5;
const SLICE_PASSES = 10;
const ROUND_GAP_MS = 1_000;
/** Engine listings timed after each round. */
const LISTINGS = 3;
/** Probing's cost is measured this many times at each size, for the same reason. */
const PROBE_ROUNDS = 3;
const WRK_SECONDS = 3;
const WRK_RUNS = 5;
const API_CONCURRENCY = 8;
const DEPLOY_TIMEOUT_MS = 10 * 60_000;
/**
 * The longest health-check interval. At the default 5 s, 300 tasks are 60 probes a second,
 * whose callbacks run inside the timed passes' waits: a pass then also counts probe work in
 * proportion to N × its own length (BENCHMARKS.md, Findings), not the reconciler's cost.
 */
const PROBE_INTERVAL_SECONDS = 300;
/** The port bench/lib/api.ts's definition() gives. */
const CONTAINER_PORT = 80;
const PROBE_COST_ENTRY = fileURLToPath(new URL('./lib/probe-cost.ts', import.meta.url));

export interface ScaleOptions {
  readonly sizes: readonly number[];
}

interface Point {
  readonly services: number;
  readonly deploySeconds: number;
  readonly containers: number;
  /** Each round's median pass. */
  readonly passMs: number[];
  /** The same, with a write to one service row before each pass, as an API call writes. */
  readonly passAfterWriteMs: number[];
  readonly passAfterWriteCpuMs: number[];
  /** Garbage-collection pauses per pass, each round (passes with nothing written). */
  readonly passGcMs: number[];
  readonly majorGcs: number;
  /**
   * The engine's listing of the instance's containers, which passes no longer wait for:
   * each round's median, timed from the bench's own process so that decoding 300
   * containers' JSON leaves no garbage in the server's heap before the next round.
   */
  readonly engineListMs: number[];
  /** CPU the server process used per pass: each round's median. */
  readonly passCpuMs: number[];
  readonly listP50: number[];
  readonly listP99: number[];
  readonly statusP50: number[];
  readonly statusP99: number[];
  readonly rssMiB: number;
  /** Health probes of all tasks at the default interval: CPU time per second of wall time, as % of one core, per round. */
  readonly probeCorePercent: number[];
  /** While the API latencies were measured: reconcile passes per second and event-loop delay. */
  readonly passesPerSecond: number;
  readonly loopDelayP99Ms: number;
  readonly loopDelayMaxMs: number;
}

interface Metric {
  readonly name: string;
  readonly unit: string;
  /** Shown but not judged: the engine's own cost, or what explains another figure. */
  readonly info?: boolean;
  /** Only in the scale table, not in the main one. */
  readonly detail?: boolean;
  readonly values: (p: Point) => number[];
}

const METRICS: readonly Metric[] = [
  { name: 'reconcile pass', unit: 'ms', values: (p) => p.passMs },
  { name: 'engine container list (a pass before the container view)', unit: 'ms', values: (p) => p.engineListMs, info: true },
  { name: 'server CPU per reconcile pass', unit: 'ms', values: (p) => p.passCpuMs },
  { name: 'GC pauses per reconcile pass', unit: 'ms', values: (p) => p.passGcMs, info: true },
  { name: 'reconcile pass after a write to one service', unit: 'ms', values: (p) => p.passAfterWriteMs },
  { name: 'server CPU per reconcile pass after a write', unit: 'ms', values: (p) => p.passAfterWriteCpuMs },
  { name: 'GET /services p50', unit: 'ms', values: (p) => p.listP50 },
  { name: 'GET /services p99', unit: 'ms', values: (p) => p.listP99 },
  { name: 'GET /services/<name> p50', unit: 'ms', values: (p) => p.statusP50 },
  { name: 'GET /services/<name> p99', unit: 'ms', values: (p) => p.statusP99 },
  { name: 'server RSS', unit: 'MiB', values: (p) => [p.rssMiB] },
  // N tasks ÷ the interval × the CPU of one probe: linear by construction, so its ratio is 3
  // × how a probe's CPU changed, which straddles 1 with the machine's noise (BENCHMARKS.md).
  // Shown for what probing costs; not one of the issue's scale figures.
  {
    name: `health probes at the default ${DEFAULT_HEALTH_CHECK.intervalSeconds} s interval, CPU`,
    unit: '% of a core',
    values: (p) => p.probeCorePercent,
    info: true,
  },
  { name: 'passes/s while API measured', unit: '', values: (p) => [p.passesPerSecond], info: true, detail: true },
  { name: 'event-loop delay p99 (same time)', unit: 'ms', values: (p) => [p.loopDelayP99Ms], info: true, detail: true },
  { name: 'event-loop delay max (same time)', unit: 'ms', values: (p) => [p.loopDelayMaxMs], info: true, detail: true },
];

/**
 * Control-plane cost as the number of services grows (10, 100, 300 by default), with one
 * server per size, all running at once and measured in turns: one full reconcile pass (7
 * rounds of 5 × 10 back-to-back passes after one not counted, and as many with a write to one
 * service row before every pass), p50/p99 of GET /services and of a status call (wrk, one
 * connection, the median of 5 runs of 3 s), and the server’s RSS. Services are created and
 * deployed concurrently through the API; each runs a busybox task limited to 12 MiB and is
 * probed every 300 s (PROBE_INTERVAL_SECONDS).
 *
 * Side by side, because the sizes are compared with each other: measured one after the
 * other, minutes apart, a change in the machine's load between them landed in the growth
 * (BENCHMARKS.md). In turns, each size's round runs within a second of the others', on an
 * engine holding every size's containers.
 */
export async function runScale(ctx: BenchContext, options: ScaleOptions): Promise<void> {
  const sizes = [...options.sizes].sort((a, b) => a - b);
  await ctx.scoped(async (scope) => {
    const fleets: Fleet[] = [];
    for (const [index, n] of sizes.entries()) {
      ctx.log(`scale: starting a server for ${n} services`);
      const server = await BenchServer.start({ basePort: BASE_PORT + PORTS_PER_SERVER * index, healthTimeout: '300', drain: '0.5', stopGrace: '3' });
      scope.defer(`scale server (${n} services)`, () => server.destroy());
      const api = await server.admin.project('s');
      const t0 = nowMs();
      await deployAll(api, Array.from({ length: n }, (_, i) => serviceName(i + 1)));
      const deploySeconds = (nowMs() - t0) / 1000;
      const containers = (await containersWithLabel(`${LABEL.instance}=${server.instance}`, true)).length;
      ctx.log(`scale: ${n} services deployed in ${deploySeconds.toFixed(1)} s; ${containers} running containers`);
      const latencies = { listP50: [], listP99: [], statusP50: [], statusP99: [] };
      fleets.push({ services: n, server, api, deploySeconds, containers, rest: [], afterWrite: [], listings: [], latencies, probing: [] });
    }
    // Let the new tasks' fast initial probes end, so they do not weigh on the figures.
    await sleep(3_000);
    await passRound(fleets, 0, false);
    await passRound(fleets, 0, true);
    for (let round = 0; round < PASS_ROUNDS; round++) {
      if (round > 0) await sleep(ROUND_GAP_MS);
      const rest = await passRound(fleets, round, false);
      const afterWrite = await passRound(fleets, round, true);
      for (const fleet of inTurn(fleets, round)) {
        fleet.rest.push(rest.get(fleet) as PassTimes);
        fleet.afterWrite.push(afterWrite.get(fleet) as PassTimes);
        fleet.listings.push(await timeListings(fleet.server.instance));
      }
    }
    for (const fleet of fleets) await fleet.server.activity();
    for (let run = 0; run < WRK_RUNS; run++) {
      for (const fleet of inTurn(fleets, run)) {
        const headers = { 'X-Auth-Token': fleet.api.token };
        const wrk = (path: string) => runWrk({ url: `${fleet.server.apiUrl}${path}`, threads: 1, connections: 1, durationSeconds: WRK_SECONDS, headers });
        const list = await wrk('/services');
        const status = await wrk(`/services/${serviceName(1)}`);
        const l = fleet.latencies;
        l.listP50.push(list.latencyMs.p50);
        l.listP99.push(list.latencyMs.p99);
        l.statusP50.push(status.latencyMs.p50);
        l.statusP99.push(status.latencyMs.p99);
      }
    }
    const activities = new Map<Fleet, Activity>();
    for (const fleet of fleets) activities.set(fleet, await activityDuring(fleet.server));
    for (let round = 0; round < PROBE_ROUNDS; round++) {
      for (const fleet of inTurn(fleets, round)) fleet.probing.push(await probeCorePercent(ctx, fleet.server.instance));
    }
    const points: Point[] = fleets.map((fleet) => ({
      services: fleet.services,
      deploySeconds: fleet.deploySeconds,
      containers: fleet.containers,
      passMs: fleet.rest.map((r) => median(r.passMs)),
      engineListMs: fleet.listings.map(median),
      passCpuMs: fleet.rest.map((r) => median(r.cpuMs)),
      passAfterWriteMs: fleet.afterWrite.map((r) => median(r.passMs)),
      passAfterWriteCpuMs: fleet.afterWrite.map((r) => median(r.cpuMs)),
      passGcMs: fleet.rest.map((r) => r.gcMsPerPass),
      majorGcs: fleet.rest.reduce((sum, r) => sum + r.majorGcs, 0),
      ...fleet.latencies,
      rssMiB: fleet.server.rssMiB(),
      ...(activities.get(fleet) as Activity),
      probeCorePercent: fleet.probing,
    }));
    for (const point of points) {
      ctx.log(
        `scale: ${point.services}: pass ${median(point.passMs).toFixed(2)} ms (after a write ${median(point.passAfterWriteMs).toFixed(2)} ms; engine list ${median(point.engineListMs).toFixed(1)} ms; GC ${median(point.passGcMs).toFixed(2)} ms a pass, ${point.majorGcs} full collections), GET /services p50 ${median(point.listP50).toFixed(2)} p99 ${median(point.listP99).toFixed(2)} ms, ` +
          `status p50 ${median(point.statusP50).toFixed(2)} p99 ${median(point.statusP99).toFixed(2)} ms, RSS ${point.rssMiB.toFixed(0)} MiB`,
      );
    }
    ctx.raw.scale = { points };
    report(ctx, points);
  });
}

interface Latencies {
  readonly listP50: number[];
  readonly listP99: number[];
  readonly statusP50: number[];
  readonly statusP99: number[];
}

/** One size's server and what was measured of it. */
interface Fleet {
  readonly services: number;
  readonly server: BenchServer;
  readonly api: Api;
  readonly deploySeconds: number;
  readonly containers: number;
  readonly rest: PassTimes[];
  readonly afterWrite: PassTimes[];
  readonly listings: number[][];
  readonly latencies: Latencies;
  /** Probing's cost at the default interval, % of a core, per measurement. */
  readonly probing: number[];
}

/** What the server did while the API latencies were measured. */
type Activity = Pick<Point, 'passesPerSecond' | 'loopDelayP99Ms' | 'loopDelayMaxMs'>;

/** One round of passes: SLICES_PER_ROUND slices of SLICE_PASSES passes per size, the sizes taking turns slice by slice. */
async function passRound(fleets: readonly Fleet[], round: number, afterWrite: boolean): Promise<Map<Fleet, PassTimes>> {
  const slices = new Map<Fleet, PassTimes[]>(fleets.map((f) => [f, []]));
  for (let slice = 0; slice < SLICES_PER_ROUND; slice++) {
    for (const fleet of inTurn(fleets, round + slice)) slices.get(fleet)?.push(await fleet.server.passDurations(SLICE_PASSES, afterWrite));
  }
  return new Map(fleets.map((f) => [f, joinTimes(slices.get(f) ?? [])]));
}

function joinTimes(parts: readonly PassTimes[]): PassTimes {
  const passes = parts.reduce((sum, p) => sum + p.passMs.length, 0);
  return {
    passMs: parts.flatMap((p) => p.passMs),
    cpuMs: parts.flatMap((p) => p.cpuMs),
    gcMsPerPass: parts.reduce((sum, p) => sum + p.gcMsPerPass * p.passMs.length, 0) / passes,
    majorGcs: parts.reduce((sum, p) => sum + p.majorGcs, 0),
  };
}

/** The fleets, starting with a different one each turn: no size is always measured first after the pause. */
function inTurn(fleets: readonly Fleet[], turn: number): Fleet[] {
  const start = turn % fleets.length;
  return [...fleets.slice(start), ...fleets.slice(0, start)];
}

async function activityDuring(server: BenchServer): Promise<Activity> {
  const a = await server.activity();
  return { passesPerSecond: a.passes / a.seconds, loopDelayP99Ms: a.loopDelayP99Ms, loopDelayMaxMs: a.loopDelayMaxMs };
}

/**
 * What probing every task at the default interval costs, measured by bench/lib/probe-cost.ts
 * in a process of its own (the server's probes at 300 s would not show it).
 */
async function probeCorePercent(ctx: BenchContext, instance: string): Promise<number> {
  const tasks = await runningWithLabel(`${LABEL.instance}=${instance}`);
  const targets = tasks.flatMap(({ labels, ip }) => {
    if (ip === null) return [];
    const path = joinPath(contextRoot(labels[LABEL.project] ?? '', labels[LABEL.service] ?? ''), DEFAULT_HEALTH_CHECK.relPath);
    return [{ id: labels[LABEL.task], host: ip, port: CONTAINER_PORT, path, statusCodes: DEFAULT_HEALTH_CHECK.statusCodes }];
  });
  const cost = JSON.parse(
    await run(process.execPath, ['--import', 'tsx', PROBE_COST_ENTRY], { input: JSON.stringify(targets), timeoutMs: 90_000 }),
  ) as ProbeCost;
  const corePercent = ((targets.length / DEFAULT_HEALTH_CHECK.intervalSeconds) * cost.cpuUsPerProbe) / 1e4;
  ctx.log(`scale: probing ${cost.targets} tasks: ${cost.probes} probes, ${cost.cpuUsPerProbe.toFixed(0)} µs CPU each; every ${DEFAULT_HEALTH_CHECK.intervalSeconds} s: ${corePercent.toFixed(2)}% of a core`);
  return corePercent;
}

async function timeListings(instance: string): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < LISTINGS; i++) {
    const start = nowMs();
    await containersWithLabel(`${LABEL.instance}=${instance}`);
    times.push(nowMs() - start);
  }
  return times;
}

function serviceName(i: number): string {
  return `svc-${String(i).padStart(3, '0')}`;
}

/** Creates and deploys the services, API_CONCURRENCY calls at a time, and waits for every deployment. */
export async function deployAll(api: Api, names: readonly string[]): Promise<void> {
  const deployments = new Map<string, number>();
  await forEachLimited(names, API_CONCURRENCY, async (name) => {
    await api.createService(name, { interval: PROBE_INTERVAL_SECONDS });
    deployments.set(name, await api.deploy(name, definition({ 'memory-reservation': 6, 'memory-limit': 12 })));
  });
  const deadline = Date.now() + DEPLOY_TIMEOUT_MS;
  let open = [...deployments.keys()];
  while (open.length > 0) {
    if (Date.now() > deadline) throw new Error(`${open.length} deployments did not finish within ${DEPLOY_TIMEOUT_MS / 1000} s`);
    await sleep(1_000);
    const still: string[] = [];
    await forEachLimited(open, API_CONCURRENCY, async (name) => {
      const doc = await api.deployment(name, deployments.get(name) as number);
      if (!doc.finished) still.push(name);
      else if (doc.step !== 'succeeded') throw new Error(`deployment of ${name} ended ${doc.step}: ${doc.reason}`);
    });
    open = still;
  }
}

function report(ctx: BenchContext, points: readonly Point[]): void {
  const rows: string[][] = [];
  for (const metric of METRICS) {
    const row = [metric.name, ...points.map((p) => `${formatNumber(median(metric.values(p)))} ${metric.unit}`)];
    let linear = true;
    for (let i = 1; i < points.length; i++) {
      const a = points[i - 1] as Point;
      const b = points[i] as Point;
      const perService = median(metric.values(b)) / b.services / (median(metric.values(a)) / a.services);
      if (perService > 1) linear = false;
      // A figure that was 0 at the size before (no GC pause at 10 services) has no ratio.
      row.push(Number.isFinite(perService) ? perService.toFixed(2) : '—');
    }
    row.push(metric.info ? 'info' : linear ? 'pass' : 'miss');
    rows.push(row);
    const last = points[points.length - 1];
    const previous = points[points.length - 2];
    if (last && previous && !metric.detail) {
      const limit = last.services / previous.services;
      ctx.record({
        bench: 'scale',
        name: `${metric.name}, ${last.services} vs ${previous.services} services`,
        unit: metric.unit,
        values: metric.values(last),
        baseline: metric.values(previous),
        goal: metric.info ? { kind: 'info' } : { kind: 'ratio-max', limit, label: `≤ ${limit.toFixed(1)} (linear)` },
      });
    }
  }
  const steps = points.slice(1).map((p, i) => `per service ${points[i]?.services}→${p.services}`);
  ctx.notes.push(
    [
      'scale: each figure by number of services; "per service" is (value/N) over (value/N) of the size before:',
      'at most 1 means it grows no faster than linearly',
      renderTable(['figure', ...points.map((p) => `N=${p.services}`), ...steps, 'linear?'], rows),
      `server RSS per added service: ${points
        .slice(1)
        .map((p, i) => `${Math.round((((p.rssMiB - (points[i] as Point).rssMiB) * 1024) / (p.services - (points[i] as Point).services)))} KiB (${points[i]?.services}→${p.services})`)
        .join(', ')}`,
      `deploying: ${points.map((p) => `${p.services} services in ${p.deploySeconds.toFixed(0)} s`).join(', ')}`,
    ].join('\n'),
  );
}
