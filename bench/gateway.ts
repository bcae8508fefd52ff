import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NginxGateway } from '../src/gateway/nginx-gateway.js';
import { definition } from './lib/api.js';
import { BenchServer, waitServing } from './lib/bench-server.js';
import type { BenchContext } from './lib/context.js';
import { UPSTREAM_IMAGE } from './lib/images.js';
import { NginxProxy } from './lib/nginx-baseline.js';
import { containersWithLabel, docker } from './lib/docker.js';
import { cpuMsOfTree, pinTree, readPid } from './lib/proc.js';
import { median, paired } from './lib/stats.js';
import { runWrk, wrkFailures, type WrkResult } from './lib/wrk.js';

// Ports 17620-17623 (berth), 17625 and 17626 (the hand-written nginx and its twin), 17627-17628
// (berth's gateway with route metrics off, and its admin port).
const BASE_PORT = 17620;
const NGINX_PORT = 17625;
const TWIN_PORT = 17626;
const UNCOUNTED_PORT = 17627;
const THREADS = 2;
const CONNECTIONS = 32;
const DIRECT_RUNS = 3;
const PROXY_CPUS = '0';
const LOAD_CPUS = '1';
/** Rounds of the twin control, loaded together like berth and nginx; fewer, as it only shows the method's noise. */
const CONTROL_ROUNDS = 4;

export interface GatewayOptions {
  /** Pairs of runs (berth, nginx) = 2 × runs; the machine is noisy, so more shorter pairs. */
  readonly runs: number;
  readonly seconds: number;
}

type Path = 'berth' | 'nginx' | 'twin' | 'direct' | 'uncounted';

interface Measured {
  readonly wrk: WrkResult;
  /** CPU time the proxy's nginx (master and workers) used per request, in µs; NaN for direct. */
  readonly cpuUsPerRequest: number;
}

/**
 * Throughput and latency with wrk (keep-alive) through berth's gateway and through a
 * hand-written nginx proxy to the same container, two ways:
 * - One at a time (-t2 -c32), in back-to-back pairs whose order alternates; each figure is
 *   the median over pairs of the per-pair comparison. These give the latencies; their
 *   throughput ratio swings by tens of percent between pairs on this machine, far more
 *   than the difference to measure.
 * - Loaded together: both proxies under load at the same moment (wrk -t1 -c16 each), both
 *   pinned to CPU 0, wrk and the upstream to CPU 1. The proxies run out of CPU, the
 *   scheduler splits it between them evenly (each nginx runs in its own session, so in
 *   its own autogroup), and the ratio of their throughputs is the ratio of what a request
 *   costs each; load from elsewhere on the machine hits both in the same instant. The goal
 *   is judged here. A control loads the hand-written nginx together with an identical
 *   twin: its spread is the method's own noise. Needs two CPUs.
 * The container directly is measured too, to show the upstream is not the bottleneck. The
 * upstream is nginx in an empty root (bench/lib/build-upstream-image.sh): busybox httpd
 * closes every connection and would be the bottleneck.
 */
export async function runGateway(ctx: BenchContext, options: GatewayOptions): Promise<void> {
  await ctx.scoped(async (scope) => {
    ctx.log('gateway: starting a server');
    const server = await BenchServer.start({ basePort: BASE_PORT });
    scope.defer('gateway server', () => server.destroy());
    const api = await server.admin.project('bench');
    await api.createService('gw');
    const id = await api.deploy('gw', definition({ image: UPSTREAM_IMAGE, 'memory-reservation': 16, 'memory-limit': 64 }));
    const doc = await api.waitDeployment('gw', id, 60_000);
    if (doc.step !== 'succeeded') throw new Error(`deployment ended ${doc.step}: ${doc.reason}`);
    await waitServing(server.gatewayUrl, '/bench-gw/');
    const target = (await api.status('gw')).target_health.targets[0];
    const upstream = `${target.target}:${target.port}`;
    const nginx = await NginxProxy.start({ listenPort: NGINX_PORT, upstream });
    scope.defer('baseline nginx', () => nginx.stop());
    const twin = await NginxProxy.start({ listenPort: TWIN_PORT, upstream });
    scope.defer('twin nginx', () => twin.stop());
    // berth's own gateway, the same in every way but counting nothing: what route metrics cost.
    const uncountedDir = await mkdtemp(join(tmpdir(), 'berth-bench-uncounted-'));
    const uncounted = new NginxGateway({ dataDir: uncountedDir, listenHost: '127.0.0.1', listenPort: UNCOUNTED_PORT, adminPort: UNCOUNTED_PORT + 1, routeMetrics: false });
    await uncounted.start();
    scope.defer('uncounted gateway', async () => {
      await uncounted.stop();
      await rm(uncountedDir, { recursive: true, force: true });
    });
    await uncounted.setRoutes([{ prefix: '/bench-gw', targets: [{ host: target.target, port: target.port }] }]);

    const urls: Record<Path, string> = {
      berth: `${server.gatewayUrl}/bench-gw/`,
      nginx: `${nginx.url}/bench-gw/`,
      twin: `${twin.url}/bench-gw/`,
      direct: `http://${upstream}/bench-gw/`,
      uncounted: `http://127.0.0.1:${UNCOUNTED_PORT}/bench-gw/`,
    };
    const masters: Record<Path, number | null> = {
      berth: readPid(join(server.dataDir, 'nginx', 'nginx.pid')),
      nginx: nginx.pid,
      twin: twin.pid,
      direct: null,
      uncounted: uncounted.pid(),
    };
    const measure = async (path: Path, seconds: number): Promise<Measured> => {
      const master = masters[path];
      const cpuBefore = master === null ? 0 : cpuMsOfTree(master);
      const wrk = await runWrk({ url: urls[path], threads: THREADS, connections: CONNECTIONS, durationSeconds: seconds });
      const cpuMs = master === null ? Number.NaN : cpuMsOfTree(master) - cpuBefore;
      return { wrk, cpuUsPerRequest: (cpuMs * 1000) / wrk.requests };
    };

    ctx.log(`gateway: upstream ${upstream}; warming up`);
    for (const path of ['berth', 'nginx', 'twin', 'direct'] as const) await measure(path, 2);

    const results: Record<Path, Measured[]> = { berth: [], nginx: [], twin: [], direct: [], uncounted: [] };
    const pairs = options.runs * 2;
    const directEvery = Math.max(1, Math.floor(pairs / DIRECT_RUNS));
    for (let pair = 0; pair < pairs; pair++) {
      const order: Path[] = pair % 2 === 0 ? ['berth', 'nginx'] : ['nginx', 'berth'];
      if (pair % directEvery === directEvery - 1 && results.direct.length < DIRECT_RUNS) order.push('direct');
      for (const path of order) {
        const m = await measure(path, options.seconds);
        results[path].push(m);
        ctx.log(
          `gateway: pair ${pair + 1} ${path}: ${m.wrk.requestsPerSecond.toFixed(0)} req/s, p50 ${m.wrk.latencyMs.p50.toFixed(2)} ms, p99 ${m.wrk.latencyMs.p99.toFixed(2)} ms, ` +
            `${Number.isNaN(m.cpuUsPerRequest) ? '' : `nginx CPU ${m.cpuUsPerRequest.toFixed(1)} µs/request, `}failures ${wrkFailures(m.wrk)}`,
        );
      }
    }
    let togetherBerthFailures = 0;
    /** Both loaded at the same moment; the throughput of a over that of b. */
    const together = async (a: Path, b: Path): Promise<number> => {
      const load = (path: Path) =>
        runWrk({ url: urls[path], threads: 1, connections: CONNECTIONS / 2, durationSeconds: options.seconds, cpus: LOAD_CPUS });
      const [x, y] = await Promise.all([load(a), load(b)]);
      if (a === 'berth') togetherBerthFailures += wrkFailures(x);
      ctx.log(
        `gateway: together ${a} ${x.requestsPerSecond.toFixed(0)} req/s, ${b} ${y.requestsPerSecond.toFixed(0)} req/s: ${(x.requestsPerSecond / y.requestsPerSecond).toFixed(3)}, ` +
          `failures ${wrkFailures(x)} and ${wrkFailures(y)}`,
      );
      return x.requestsPerSecond / y.requestsPerSecond;
    };

    // The proxies on one CPU, the load and the upstream on the other: the proxies are then
    // what runs out of CPU, and the scheduler splits that CPU between them evenly.
    for (const path of ['berth', 'nginx', 'twin', 'uncounted'] as const) pinTree(masters[path] as number, PROXY_CPUS);
    await docker(['update', '--cpuset-cpus', LOAD_CPUS, ...(await containersWithLabel(`io.berth.instance=${server.instance}`, true))]);
    ctx.log(`gateway: proxies pinned to CPU ${PROXY_CPUS}, wrk and the upstream to CPU ${LOAD_CPUS}; loading them together`);
    const togetherRatios: number[] = [];
    const controlRatios: number[] = [];
    const countingRatios: number[] = [];
    for (let round = 0; round < options.runs * 2; round++) {
      togetherRatios.push(await together('berth', 'nginx'));
      countingRatios.push(await together('berth', 'uncounted'));
      if (round % 2 === 1 && controlRatios.length < CONTROL_ROUNDS) controlRatios.push(await together('twin', 'nginx'));
    }
    ctx.raw.gateway = {
      upstream: `${UPSTREAM_IMAGE} at ${upstream}`,
      wrk: `-t${THREADS} -c${CONNECTIONS} -d${options.seconds}s; together: -t1 -c${CONNECTIONS / 2} each`,
      together: { berthOverNginx: togetherRatios, twinOverNginx: controlRatios, countingOverNot: countingRatios },
      results: Object.fromEntries(
        Object.entries(results).map(([path, ms]) => [
          path,
          ms.map((m) => ({ rps: m.wrk.requestsPerSecond, latencyMs: m.wrk.latencyMs, cpuUsPerRequest: m.cpuUsPerRequest, failures: wrkFailures(m.wrk) })),
        ]),
      ),
    };
    const rps = (path: Path): number[] => results[path].map((m) => m.wrk.requestsPerSecond);
    const p = (path: Path, q: 'p50' | 'p99'): number[] => results[path].map((m) => m.wrk.latencyMs[q]);
    const cpu = (path: Path): number[] => results[path].map((m) => m.cpuUsPerRequest);
    ctx.record({
      bench: 'gateway',
      name: 'throughput, berth vs hand-written nginx, loaded together',
      unit: 'ratio',
      values: togetherRatios,
      comparisons: togetherRatios,
      goal: { kind: 'ratio-min', limit: 0.95 },
      note: 'both proxies under load at the same moment; each value is berth req/s over nginx req/s in one round',
    });
    ctx.record({
      bench: 'gateway',
      name: 'throughput with route metrics on vs off, loaded together',
      unit: 'ratio',
      values: countingRatios,
      comparisons: countingRatios,
      goal: { kind: 'ratio-min', limit: 0.97 },
      note: "berth's gateway counting requests per route against the same gateway counting nothing",
    });
    ctx.record({
      bench: 'gateway',
      name: 'control: identical nginx vs nginx, loaded together',
      unit: 'ratio',
      values: controlRatios,
      comparisons: controlRatios,
      goal: { kind: 'info' },
      note: 'the same measurement between two identical proxies: how far the method itself strays from 1',
    });
    ctx.record({
      bench: 'gateway',
      name: 'throughput, berth vs hand-written nginx, one at a time',
      unit: 'req/s',
      values: rps('berth'),
      baseline: rps('nginx'),
      comparisons: paired(rps('berth'), rps('nginx'), (x, y) => x / y),
      goal: { kind: 'info' },
      note: 'back-to-back pairs; on this machine the ratio swings more between pairs than the difference measured',
    });
    ctx.record({
      bench: 'gateway',
      name: 'p99 latency, berth vs hand-written nginx',
      unit: 'ms',
      values: p('berth', 'p99'),
      baseline: p('nginx', 'p99'),
      comparisons: paired(p('berth', 'p99'), p('nginx', 'p99'), (x, y) => x - y),
      goal: { kind: 'diff-max', limit: 1 },
    });
    ctx.record({
      bench: 'gateway',
      name: 'p50 latency, berth vs hand-written nginx',
      unit: 'ms',
      values: p('berth', 'p50'),
      baseline: p('nginx', 'p50'),
      comparisons: paired(p('berth', 'p50'), p('nginx', 'p50'), (x, y) => x - y),
      compare: 'diff',
      goal: { kind: 'info' },
    });
    ctx.record({
      bench: 'gateway',
      name: 'nginx CPU per request, berth vs hand-written',
      unit: 'µs',
      values: cpu('berth'),
      baseline: cpu('nginx'),
      comparisons: paired(cpu('berth'), cpu('nginx'), (x, y) => x / y),
      goal: { kind: 'info' },
      note: 'user + system time of the proxy nginx master and workers over the run, per request',
    });
    ctx.record({
      bench: 'gateway',
      name: 'throughput, direct to the container vs nginx',
      unit: 'req/s',
      values: rps('direct'),
      baseline: [median(rps('nginx'))],
      goal: { kind: 'info' },
      note: 'the upstream is not the bottleneck when direct is well above the proxies',
    });
    for (const q of ['p50', 'p99'] as const) {
      ctx.record({
        bench: 'gateway',
        name: `${q} latency, direct to the container vs nginx`,
        unit: 'ms',
        values: p('direct', q),
        baseline: [median(p('nginx', q))],
        compare: 'diff',
        goal: { kind: 'info' },
        note: 'what a proxy hop costs at all',
      });
    }
    ctx.record({
      bench: 'gateway',
      name: 'failed requests through berth (all wrk runs)',
      unit: 'requests',
      values: [results.berth.reduce((sum, m) => sum + wrkFailures(m.wrk), 0) + togetherBerthFailures],
      goal: { kind: 'value-max', limit: 0 },
    });
  });
}
