import { SwarmLab, type LabNode } from '../test/support/swarm-lab.js';
import { definition, type Api } from './lib/api.js';
import { BenchServer, waitServing } from './lib/bench-server.js';
import type { BenchContext, Scope } from './lib/context.js';
import { pollUntilOk } from './lib/http.js';
import { HELLO_IMAGE, UPSTREAM_IMAGE } from './lib/images.js';
import { startLoad, summarizeLoad } from './lib/load.js';
import { nowMs } from './lib/process.js';
import { paired } from './lib/stats.js';
import { SwarmBaseline, untilOk } from './lib/swarm-baseline.js';
import { runWrk, wrkFailures } from './lib/wrk.js';
import { waitFor } from '../test/support/docker-harness.js';

// Ports 17760-17763 (berth on the host's engine) and 17764-17767 (berth on the Swarm); lab 10.
const ENGINE_PORT = 17760;
const SWARM_PORT = 17764;
const LAB = 10;
const POLL_MS = 10;
const LABEL = 'io.berth.bench';

export interface SwarmBenchOptions {
  readonly runs: number;
  readonly seconds: number;
}

/**
 * berth on a real three-node Swarm of engines in network namespaces (test/support/swarm-lab.ts),
 * with Swarm's own dispatcher heartbeat (5 s), against baselines measured in the same run:
 * - deploy: PUT → first 200 through the gateway, against `docker service create` of the same
 *   image and limits on an overlay network (as berth's task is) + polling the Swarm API and
 *   then the task's published port, by hand; and the same without a network, for information;
 * - throughput: wrk through the gateway to a task on a worker node, against the same through
 *   berth on the host's single engine, in back-to-back pairs;
 * - drain: failed requests of a routed service under load while its node is drained (goal 0);
 * - node failure: every process of a worker dies; seconds until berth's route serves again,
 *   against the seconds until Swarm's own rescheduling (a `restart: any` service on the same
 *   node) serves again.
 */
export async function runSwarm(ctx: BenchContext, options: SwarmBenchOptions): Promise<void> {
  await ctx.scoped(async (scope) => {
    ctx.log('swarm: making a lab of three engines');
    const lab = await SwarmLab.create({ lab: LAB, nodes: 3 });
    scope.defer('swarm lab', () => lab.destroy());
    await lab.loadImages(HELLO_IMAGE, UPSTREAM_IMAGE);
    const server = await BenchServer.start({ basePort: SWARM_PORT, extra: { dockerHost: lab.manager.host } });
    scope.defer('swarm server', () => server.destroy());
    const api = await server.admin.project('bench');
    const baseline = new SwarmBaseline(lab.manager.socket);

    await deployLatency(ctx, scope, api, server, baseline, lab, options.runs * 2);
    await throughput(ctx, scope, api, server, lab, options);
    await drain(ctx, api, server, options.runs);
    await nodeFailure(ctx, api, server, baseline, lab, options.runs);
  });
}

async function deployLatency(ctx: BenchContext, scope: Scope, api: Api, server: BenchServer, baseline: SwarmBaseline, lab: SwarmLab, runs: number): Promise<void> {
  const image = await lab.docker(lab.manager, 'image', 'inspect', '-f', '{{.Id}}', HELLO_IMAGE);
  // berth's task is on its project's overlay network (its services reach each other by name
  // there); the baseline's is on one of its own, so Swarm does the same work for both.
  const network = await baseline.overlay('bench-raw', LABEL);
  scope.defer('baseline network', () => lab.docker(lab.manager, 'network', 'rm', network));
  const berth: number[] = [];
  const raw: number[] = [];
  const plain: number[] = [];
  for (let round = 0; round <= runs; round++) {
    const name = `d${round}`;
    const deployBerth = async (): Promise<number> => {
      await api.createService(name);
      const t0 = nowMs();
      const id = await api.deploy(name, definition({ constraints: ['node.role==worker'] }));
      const ok = await pollUntilOk(`${server.gatewayUrl}/bench-${name}/`, { intervalMs: POLL_MS, timeoutMs: 60_000 });
      await api.waitDeployment(name, id, 30_000);
      await api.remove(name);
      return ok.okAt - t0;
    };
    const deployRaw = (prefix: string, on?: string): Promise<number> =>
      baseline.timeToServe(`${prefix}-${round}`, image, { intervalMs: POLL_MS, constraints: ['node.role==worker'], label: LABEL, ...(on ? { network: on } : {}) });
    let b: number;
    let r: number;
    if (round % 2 === 0) {
      b = await deployBerth();
      r = await deployRaw('raw', network);
    } else {
      r = await deployRaw('raw', network);
      b = await deployBerth();
    }
    const p = await deployRaw('plain');
    ctx.log(`swarm: deploy round ${round}${round === 0 ? ' (warm-up)' : ''}: docker service create ${r.toFixed(0)} ms (without a network ${p.toFixed(0)} ms), berth ${b.toFixed(0)} ms`);
    if (round === 0) continue;
    berth.push(b);
    raw.push(r);
    plain.push(p);
  }
  ctx.raw.swarmDeploy = { berth, raw, plain };
  ctx.record({
    bench: 'swarm',
    name: 'deploy on Swarm: PUT → first 200 via gateway',
    unit: 'ms',
    values: berth,
    baseline: raw,
    comparisons: paired(berth, raw, (x, y) => x / y),
    goal: { kind: 'ratio-max', limit: 1.5 },
    note: 'baseline: docker service create (same image, limits, reservation, host-mode port, on an overlay network) + polling the Swarm API, then the published port, every 10 ms',
  });
  ctx.record({
    bench: 'swarm',
    name: 'deploy on Swarm: the same baseline on no network',
    unit: 'ms',
    values: plain,
    baseline: raw,
    comparisons: paired(plain, raw, (x, y) => x / y),
    goal: { kind: 'info' },
    note: 'what joining an overlay network costs Swarm on a node: the service without one against the service on one',
  });
}

async function throughput(ctx: BenchContext, scope: Scope, api: Api, server: BenchServer, lab: SwarmLab, options: SwarmBenchOptions): Promise<void> {
  const engine = await BenchServer.start({ basePort: ENGINE_PORT });
  scope.defer('engine server', () => engine.destroy());
  const engineApi = await engine.admin.project('bench');
  const upstream = definition({ image: UPSTREAM_IMAGE, 'memory-limit': 64 });
  for (const [target, where] of [
    [api, { ...upstream, node: 'worker-2' }],
    [engineApi, upstream],
  ] as const) {
    await target.createService('gw');
    const done = await target.waitDeployment('gw', await target.deploy('gw', where), 60_000);
    if (done.step !== 'succeeded') throw new Error(`gw ended ${done.step}: ${done.reason}`);
  }
  await waitServing(server.gatewayUrl, '/bench-gw/');
  await waitServing(engine.gatewayUrl, '/bench-gw/');
  const target = (await api.status('gw')).target_health.targets[0];
  ctx.log(`swarm: the Swarm task is served at ${target.target}:${target.port} (${lab.nodes[1]?.name})`);
  const measure = (url: string, seconds: number) => runWrk({ url, threads: 2, connections: 32, durationSeconds: seconds });
  await measure(`${server.gatewayUrl}/bench-gw/`, 2);
  await measure(`${engine.gatewayUrl}/bench-gw/`, 2);
  const swarm: number[] = [];
  const single: number[] = [];
  let failures = 0;
  for (let pair = 0; pair < options.runs * 2; pair++) {
    const order = pair % 2 === 0 ? (['swarm', 'engine'] as const) : (['engine', 'swarm'] as const);
    for (const side of order) {
      const result = await measure(`${side === 'swarm' ? server.gatewayUrl : engine.gatewayUrl}/bench-gw/`, options.seconds);
      failures += wrkFailures(result);
      (side === 'swarm' ? swarm : single).push(result.requestsPerSecond);
      ctx.log(`swarm: pair ${pair + 1} ${side}: ${result.requestsPerSecond.toFixed(0)} req/s, p99 ${result.latencyMs.p99.toFixed(2)} ms, failures ${wrkFailures(result)}`);
    }
  }
  ctx.raw.swarmThroughput = { swarm, single, failures };
  ctx.record({
    bench: 'swarm',
    name: 'gateway throughput to a task on a worker node',
    unit: 'req/s',
    values: swarm,
    baseline: single,
    comparisons: paired(swarm, single, (x, y) => x / y),
    goal: { kind: 'ratio-min', limit: 0.9 },
    note: 'baseline: the same upstream through berth on the host’s single engine; wrk -t2 -c32 in back-to-back pairs',
  });
  await api.remove('gw');
}

async function drain(ctx: BenchContext, api: Api, server: BenchServer, runs: number): Promise<void> {
  await api.createService('dr');
  const done = await api.waitDeployment('dr', await api.deploy('dr', definition({ replicas: 2, constraints: ['node.role==worker'] })), 60_000);
  if (done.step !== 'succeeded') throw new Error(`dr ended ${done.step}: ${done.reason}`);
  await waitServing(server.gatewayUrl, '/bench-dr/');
  const failures: number[] = [];
  const seconds: number[] = [];
  for (let run = 0; run < runs; run++) {
    // The node holding a task is drained; the other one, drained the run before, takes them.
    const nodes = (await api.status('dr')).tasks.map((t: { node?: string }) => t.node);
    const node = nodes[0] as string;
    const load = await startLoad({ url: `${server.gatewayUrl}/bench-dr/`, rate: 200, durationMs: 20_000, maxSockets: 32, timeoutMs: 5_000 });
    await waitFor('some load first', async () => nowMs() - load.t0 > 2_000, 10_000, 50);
    const t0 = nowMs();
    await server.admin.call('POST', `/nodes/${node}/drain`);
    await waitFor(`${node} to be drained`, async () => (await server.admin.call('GET', `/nodes/${node}`)).json.availability === 'drain', 60_000, 100);
    seconds.push((nowMs() - t0) / 1000);
    const summary = summarizeLoad(await load.done);
    failures.push(summary.failures);
    ctx.log(`swarm: drain ${run + 1} of ${node}: ${summary.failures} of ${summary.requests} requests failed ${JSON.stringify(summary.causes)}, drained in ${seconds[seconds.length - 1]?.toFixed(1)} s`);
    await server.admin.call('POST', `/nodes/${node}/activate`);
  }
  ctx.raw.swarmDrain = { failures, seconds };
  ctx.record({ bench: 'swarm', name: 'failed requests while a node is drained (200 req/s)', unit: 'requests', values: failures, goal: { kind: 'value-max', limit: 0 } });
  ctx.record({ bench: 'swarm', name: 'drain: berth drain → node drained', unit: 's', values: seconds, goal: { kind: 'info' }, note: 'tasks moved start-first, one at a time per service' });
  await api.remove('dr');
}

async function nodeFailure(ctx: BenchContext, api: Api, server: BenchServer, baseline: SwarmBaseline, lab: SwarmLab, runs: number): Promise<void> {
  const image = await lab.docker(lab.manager, 'image', 'inspect', '-f', '{{.Id}}', HELLO_IMAGE);
  const berth: number[] = [];
  const swarm: number[] = [];
  for (let run = 0; run < runs; run++) {
    const victim = lab.nodes[1 + (run % 2)] as LabNode;
    const other = lab.nodes[2 - (run % 2)] as LabNode;
    // Both services start on the victim: the other worker takes nothing while they are placed.
    await lab.docker(lab.manager, 'node', 'update', '--availability', 'pause', other.name);
    const name = `nf${run}`;
    await api.createService(name);
    const done = await api.waitDeployment(name, await api.deploy(name, definition({ constraints: ['node.role==worker'] })), 60_000);
    if (done.step !== 'succeeded') throw new Error(`${name} ended ${done.step}: ${done.reason}`);
    const raw = await baseline.create(`raw-${name}`, image, { restart: 'any', constraints: ['node.role==worker'], label: LABEL });
    const before = await baseline.published(raw, { intervalMs: 50, timeoutMs: 60_000 });
    await waitServing(server.gatewayUrl, `/bench-${name}/`);
    await lab.docker(lab.manager, 'node', 'update', '--availability', 'active', other.name);

    lab.killNode(victim);
    const t0 = nowMs();
    const [b, s] = await Promise.all([
      pollUntilOk(`${server.gatewayUrl}/bench-${name}/`, { intervalMs: 50, timeoutMs: 120_000 }).then((ok) => ok.okAt - t0),
      baseline
        .published(raw, { intervalMs: 50, timeoutMs: 120_000, avoid: before.node })
        .then((at) => untilOk(`http://${at.address}:${at.port}/raw-${name}/`, 50, 30_000))
        .then((okAt) => okAt - t0),
    ]);
    berth.push(b / 1000);
    swarm.push(s / 1000);
    ctx.log(`swarm: ${victim.name} killed: berth serves again after ${(b / 1000).toFixed(1)} s, Swarm's own rescheduling after ${(s / 1000).toFixed(1)} s`);
    await lab.reviveNode(victim);
    await api.remove(name);
    await baseline.remove(raw);
  }
  ctx.raw.swarmNodeFailure = { berth, swarm };
  ctx.record({
    bench: 'swarm',
    name: 'node failure → serving again',
    unit: 's',
    values: berth,
    baseline: swarm,
    comparisons: paired(berth, swarm, (x, y) => x / y),
    goal: { kind: 'ratio-max', limit: 1.2 },
    note: 'one task, on the worker killed (engine, containerd, tasks); baseline: a restart: any Swarm service on the same node until its new task answers; heartbeat 5 s',
  });
}
