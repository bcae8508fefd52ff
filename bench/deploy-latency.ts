import { BASE_CAPABILITIES, DEFAULT_CPU_LIMIT, DEFAULT_PIDS_LIMIT } from '../src/domain/definition.js';
import { definition, type Api } from './lib/api.js';
import { BenchServer } from './lib/bench-server.js';
import type { BenchContext } from './lib/context.js';
import { BENCH_LABEL, containerInfo, containerIp, docker } from './lib/docker.js';
import { pollUntilOk } from './lib/http.js';
import { HELLO_IMAGE } from './lib/images.js';
import { nowMs } from './lib/process.js';
import { median, paired } from './lib/stats.js';

// Ports 17600-17603.
const BASE_PORT = 17600;
const POLL_MS = 10;

export interface DeployLatencyOptions {
  readonly runs: number;
}

/** Where one berth deployment spent its time, in ms after the PUT was sent. */
interface Breakdown {
  readonly putAnswered: number;
  /** Event "deployment of revision N started": the image was checked, tasks are about to be created. */
  readonly imageChecked: number;
  /** The engine's Created time of the new task's container. */
  readonly containerCreated: number;
  /** The engine's State.StartedAt of the new task. */
  readonly containerStarted: number;
  /** Event "switched traffic to revision N": the deployment saw the task healthy and made it current. */
  readonly switched: number;
  readonly firstOk: number;
}

/**
 * PUT of a definition (image present locally) → first 200 through the gateway, against
 * `docker run -d` of the same image with what berth gives a task — the same limits,
 * capabilities and a user-defined bridge network of its own, as a project's — → first 200
 * from its address. Both poll every 10 ms on a fresh connection. A fresh service per run;
 * runs alternate which side goes first; one untimed warm-up round.
 */
export async function runDeployLatency(ctx: BenchContext, options: DeployLatencyOptions): Promise<void> {
  await ctx.scoped(async (scope) => {
    ctx.log('deploy: starting a server');
    const server = await BenchServer.start({ basePort: BASE_PORT });
    scope.defer('deploy server', () => server.destroy());
    // Made before the rounds, as berth makes a project's network before its first task.
    const network = `berth-bench-${ctx.session}`;
    await docker(['network', 'create', '--label', `${BENCH_LABEL}=${ctx.session}`, '--subnet', '10.199.0.0/22', network]);
    scope.defer('baseline network', () => docker(['network', 'rm', network]).then(() => undefined));
    const api = await server.admin.project('bench');
    const raw: number[] = [];
    const berth: number[] = [];
    const breakdowns: Breakdown[] = [];
    for (let round = 0; round <= options.runs; round++) {
      const warmUp = round === 0;
      let r = 0;
      let b: Breakdown | null = null;
      if (round % 2 === 0) {
        r = await rawDockerRun(ctx.session, network, round);
        b = await berthDeploy(api, server, `d${round}`);
      } else {
        b = await berthDeploy(api, server, `d${round}`);
        r = await rawDockerRun(ctx.session, network, round);
      }
      ctx.log(`deploy: round ${round}${warmUp ? ' (warm-up)' : ''}: docker run ${r.toFixed(0)} ms, berth ${b.firstOk.toFixed(0)} ms ${JSON.stringify(roundAll(b))}`);
      if (warmUp) continue;
      raw.push(r);
      berth.push(b.firstOk);
      breakdowns.push(b);
    }
    ctx.raw.deploy = { raw, berth, breakdowns: breakdowns.map(roundAll) };
    ctx.record({
      bench: 'deploy',
      name: 'PUT → first 200 via gateway',
      unit: 'ms',
      values: berth,
      baseline: raw,
      comparisons: paired(berth, raw, (x, y) => x / y),
      goal: { kind: 'ratio-max', limit: 1.25 },
      note: 'baseline: docker run -d with berth’s limits, capabilities and a network of its own + poll the container address',
    });
    const segment = (from: keyof Breakdown, to: keyof Breakdown): string => `+${median(breakdowns.map((x) => x[to] - x[from])).toFixed(0)}`.padStart(6);
    ctx.notes.push(
      [
        'deploy: where the median berth deployment spends its time (ms; each step after the one before)',
        `  PUT answered              ${median(breakdowns.map((x) => x.putAnswered)).toFixed(0).padStart(5)}  (after the PUT was sent)`,
        `  image checked            ${segment('putAnswered', 'imageChecked')}  (event "deployment of revision 1 started": step pending → starting)`,
        `  container created        ${segment('imageChecked', 'containerCreated')}  (engine: Created; the pass that runs step starting)`,
        `  container started        ${segment('containerCreated', 'containerStarted')}  (engine: State.StartedAt)`,
        `  switched traffic         ${segment('containerStarted', 'switched')}  (event: first healthy probe, health-wait → switching → switched)`,
        `  first 200 via gateway    ${segment('switched', 'firstOk')}  (route pushed to nginx, next poll)`,
        `  docker run -d → 200       ${median(raw).toFixed(0).padStart(5)}  (the baseline, for comparison)`,
      ].join('\n'),
    );
  });
}

/** The baseline: what a user does by hand, as isolated as berth's task. Returns ms from `docker run` to the first 200. */
async function rawDockerRun(session: string, network: string, round: number): Promise<number> {
  const root = `/raw-${round}`;
  const t0 = nowMs();
  const id = await docker([
    'run', '-d', '--label', `${BENCH_LABEL}=${session}`, '--network', network,
    '--init', '--memory', '32m', '--memory-swap', '32m', '--memory-reservation', '16m', '--security-opt', 'no-new-privileges',
    '--cap-drop', 'ALL', ...BASE_CAPABILITIES.flatMap((cap) => ['--cap-add', cap]), '--pids-limit', String(DEFAULT_PIDS_LIMIT), '--cpus', String(DEFAULT_CPU_LIMIT),
    '-e', 'GREETING=hello', '-e', `CONTEXT_ROOT=${root}`, HELLO_IMAGE,
  ]);
  const ip = await containerIp(id);
  const ok = await pollUntilOk(`http://${ip}:80${root}/`, { intervalMs: POLL_MS, timeoutMs: 30_000 });
  const elapsed = ok.okAt - t0;
  await docker(['rm', '-f', id]);
  return elapsed;
}

async function berthDeploy(api: Api, server: BenchServer, name: string): Promise<Breakdown> {
  await api.createService(name);
  // Server timestamps (events, the engine's StartedAt) are wall-clock times.
  const wall0 = Date.now();
  const t0 = nowMs();
  const deployment = await api.deploy(name, definition());
  const putAnswered = nowMs() - t0;
  const ok = await pollUntilOk(`${server.gatewayUrl}/bench-${name}/`, { intervalMs: POLL_MS, timeoutMs: 60_000 });
  const firstOk = ok.okAt - t0;
  await api.waitDeployment(name, deployment, 30_000);
  const events = await api.events(name);
  const at = (prefix: string): number => {
    const event = events.find((e) => e.message.startsWith(prefix));
    return event ? Date.parse(event.created_at) - wall0 : Number.NaN;
  };
  const status = await api.status(name);
  const task = status.tasks[0]?.task_name as string | undefined;
  let containerCreated = Number.NaN;
  let containerStarted = Number.NaN;
  if (task) {
    const info = await containerInfo(`berth-${server.instance}-bench-${task}`);
    containerCreated = Date.parse(info.Created) - wall0;
    containerStarted = Date.parse(info.State.StartedAt) - wall0;
  }
  const breakdown: Breakdown = {
    putAnswered,
    imageChecked: at('deployment of revision 1 started'),
    containerCreated,
    containerStarted,
    switched: at('switched traffic'),
    firstOk,
  };
  await api.remove(name);
  return breakdown;
}

function roundAll(b: Breakdown): Record<string, number> {
  return Object.fromEntries(Object.entries(b).map(([k, v]) => [k, Math.round(v as number)]));
}
