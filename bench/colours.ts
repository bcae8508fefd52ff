import { Agent, request } from 'node:http';
import { sleep } from '../src/process/wait.js';
import { definition, type Api } from './lib/api.js';
import { BenchServer, waitServing } from './lib/bench-server.js';
import type { BenchContext } from './lib/context.js';
import { HELLO_IMAGE, UPSTREAM_IMAGE } from './lib/images.js';
import { startLoad, summarizeLoad } from './lib/load.js';
import { nowMs } from './lib/process.js';
import { median } from './lib/stats.js';

// Ports 17720-17723.
const BASE_PORT = 17720;
const RATE = 300;
const SWITCHES = 10;
/** Between two switches: long enough for the load to see each colour for a while. */
const SPACING_MS = 700;
const EDGE_MS = 1_500;
const POLL_BUDGET_MS = 30_000;
const UPDATE_BUDGET_MS = 30_000;

export interface ColoursOptions {
  readonly runs: number;
}

interface SwitchRound {
  /** Per switch: the request sent → the gateway's first answer from the colour switched to. */
  readonly switchMs: number[];
  /** Per switch: the server's own time for it (the API's took_ms). */
  readonly serverMs: number[];
  readonly failures: number;
  readonly requests: number;
  readonly causes: Record<string, number>;
}

/**
 * Blue/green switches against the update they replace. A service with two colours (busybox
 * demo image, each colour answering its own name) takes 10 switches back and forth while a
 * steady 300 req/s (open loop, keep-alive, no retries) goes through the gateway; per switch,
 * the time from sending `POST /switch` until a GET through the gateway is answered by the new
 * colour; per round, the failed requests. One more round runs on the keep-alive upstream
 * (nginx), whose connections to the colour left stay open across the switch. The baseline,
 * measured in the same run on the same server: an update of a service without colours, from
 * the PUT until the gateway answers from the new revision, under the same load.
 */
export async function runColours(ctx: BenchContext, options: ColoursOptions): Promise<void> {
  await ctx.scoped(async (scope) => {
    ctx.log('colours: starting a server');
    const server = await BenchServer.start({ basePort: BASE_PORT });
    scope.defer('colours server', () => server.destroy());
    const api = await server.admin.project('bench-col');
    const poller = new Agent({ keepAlive: true, maxSockets: 1 });
    scope.defer('poller', () => poller.destroy());
    const served = (path: string): Promise<string> => firstWord(server.gatewayUrl + path, poller);

    await colouredService(api, 'nmpi', HELLO_IMAGE);
    await colouredService(api, 'up', UPSTREAM_IMAGE);
    await waitServing(server.gatewayUrl, '/bench-col-nmpi/');
    await waitServing(server.gatewayUrl, '/bench-col-up/');
    const rounds: SwitchRound[] = [];
    for (let i = 1; i <= options.runs; i++) {
      rounds.push(await switchRound(ctx, api, server.gatewayUrl, 'nmpi', served));
      ctx.log(`colours: round ${i}: median switch ${median(rounds[i - 1]?.switchMs ?? []).toFixed(1)} ms, ${rounds[i - 1]?.failures} of ${rounds[i - 1]?.requests} requests failed`);
    }
    const keepAlive = await switchRound(ctx, api, server.gatewayUrl, 'up', null);
    ctx.log(`colours: keep-alive upstream: ${keepAlive.failures} of ${keepAlive.requests} requests failed ${JSON.stringify(keepAlive.causes)}`);

    const updates: { ms: number; failures: number }[] = [];
    await api.createService('web', { rel_path: '/health', interval: 1 });
    const first = await api.deploy('web', definition({ environment: [{ name: 'GREETING', value: 'rev0' }] }));
    if ((await api.waitDeployment('web', first, UPDATE_BUDGET_MS)).step !== 'succeeded') throw new Error('the first deployment of web failed');
    await waitServing(server.gatewayUrl, '/bench-col-web/');
    for (let i = 1; i <= options.runs; i++) {
      updates.push(await updateRound(api, server.gatewayUrl, `rev${i}`, served));
      ctx.log(`colours: update ${i}: PUT → new revision served in ${updates[i - 1]?.ms.toFixed(0)} ms, ${updates[i - 1]?.failures} failed`);
    }

    ctx.raw.colours = { rounds, keepAlive, updates };
    const switchMs = rounds.flatMap((r) => r.switchMs);
    const updateMs = updates.map((u) => u.ms);
    ctx.record({
      bench: 'colours',
      name: 'switch time (POST /switch → gateway serves the new colour)',
      unit: 'ms',
      values: switchMs,
      baseline: updateMs,
      goal: { kind: 'ratio-max', limit: 0.1 },
      note: 'baseline: an update of a service without colours, PUT → the gateway answers from the new revision, same run and load',
    });
    ctx.record({
      bench: 'colours',
      name: 'switch time as the server takes it (took_ms)',
      unit: 'ms',
      values: rounds.flatMap((r) => r.serverMs),
      goal: { kind: 'info' },
      note: 'one route table write, then the store; the rest of the above is the HTTP round trips',
    });
    ctx.record({
      bench: 'colours',
      name: `failed requests at ${RATE} req/s during ${SWITCHES} switches back and forth`,
      unit: 'requests',
      values: [...rounds, keepAlive].map((r) => r.failures),
      goal: { kind: 'value-max', limit: 0 },
      note: 'socket errors, timeouts and non-200s over each whole load run, busybox colours and one run on keep-alive nginx colours; the worst run decides',
    });
    ctx.record({
      bench: 'colours',
      name: `failed requests at ${RATE} req/s during an update (baseline)`,
      unit: 'requests',
      values: updates.map((u) => u.failures),
      goal: { kind: 'value-max', limit: 0 },
    });
    ctx.notes.push(
      `colours: median switch ${median(switchMs).toFixed(1)} ms (server ${median(rounds.flatMap((r) => r.serverMs)).toFixed(1)} ms) against ${median(updateMs).toFixed(0)} ms for an update to reach the gateway; the update bench's "switch time" figure also waits out the drain and the old task's stop`,
    );
  });
}

/** A service with colours blue and green, each answering with its own name; blue live. */
async function colouredService(api: Api, name: string, image: string): Promise<void> {
  await api.createService(name, { rel_path: '/health', interval: 1 });
  for (const colour of ['blue', 'green']) {
    const res = await api.call('PUT', `/services/${name}?colour=${colour}`, definition({ image, environment: [{ name: 'GREETING', value: colour }] }));
    if (res.status !== 200) throw new Error(`PUT ${name} colour ${colour}: ${res.status} ${JSON.stringify(res.json)}`);
    const done = await api.waitDeployment(name, res.json.deployment as number, UPDATE_BUDGET_MS);
    if (done.step !== 'succeeded') throw new Error(`deployment of ${name} colour ${colour} ended ${done.step}: ${done.reason}`);
  }
}

/**
 * Ten switches back and forth under load. With `served`, each switch is timed until the
 * gateway answers from the new colour; without (colours that answer alike), it is only made.
 */
async function switchRound(ctx: BenchContext, api: Api, gatewayUrl: string, name: string, served: ((path: string) => Promise<string>) | null): Promise<SwitchRound> {
  const load = await startLoad({ url: `${gatewayUrl}/bench-col-${name}/`, rate: RATE, durationMs: 2 * EDGE_MS + SWITCHES * SPACING_MS, maxSockets: 64, timeoutMs: 5_000 });
  const switchMs: number[] = [];
  const serverMs: number[] = [];
  let live = (await api.status(name)).live_colour as string;
  await sleep(Math.max(0, load.t0 + EDGE_MS - nowMs()));
  for (let i = 0; i < SWITCHES; i++) {
    const due = load.t0 + EDGE_MS + i * SPACING_MS;
    await sleep(Math.max(0, due - nowMs()));
    const colour = live === 'blue' ? 'green' : 'blue';
    const sentAt = nowMs();
    const answer = api.call('POST', `/services/${name}/switch`, { colour });
    const servedAt = served === null ? null : await pollUntil(() => served(`/bench-col-${name}/`), colour);
    const res = await answer;
    if (res.status !== 200) throw new Error(`switch of ${name} to ${colour}: ${res.status} ${JSON.stringify(res.json)}`);
    if (servedAt !== null) switchMs.push(servedAt - sentAt);
    serverMs.push(res.json.took_ms as number);
    live = colour;
  }
  const summary = summarizeLoad(await load.done);
  if (summary.failures > 0) ctx.log(`colours: ${name}: failed requests by cause: ${JSON.stringify(summary.causes)}`);
  return { switchMs, serverMs, failures: summary.failures, requests: summary.requests, causes: summary.causes };
}

/** An update of `web` under the same load: the PUT → the gateway's first answer from the new revision. */
async function updateRound(api: Api, gatewayUrl: string, greeting: string, served: (path: string) => Promise<string>): Promise<{ ms: number; failures: number }> {
  const load = await startLoad({ url: `${gatewayUrl}/bench-col-web/`, rate: RATE, durationMs: EDGE_MS + UPDATE_BUDGET_MS / 3, maxSockets: 64, timeoutMs: 5_000 });
  await sleep(Math.max(0, load.t0 + EDGE_MS - nowMs()));
  const sentAt = nowMs();
  const id = await api.deploy('web', definition({ environment: [{ name: 'GREETING', value: greeting }] }));
  const servedAt = await pollUntil(() => served('/bench-col-web/'), greeting);
  const done = await api.waitDeployment('web', id, UPDATE_BUDGET_MS);
  if (done.step !== 'succeeded') throw new Error(`update of web ended ${done.step}: ${done.reason}`);
  return { ms: servedAt - sentAt, failures: summarizeLoad(await load.done).failures };
}

/** Asks again and again, each request right after the last, until the answer is `word`; when it came. */
async function pollUntil(ask: () => Promise<string>, word: string): Promise<number> {
  const deadline = nowMs() + POLL_BUDGET_MS;
  let last = '';
  while (nowMs() < deadline) {
    last = await ask();
    if (last === word) return nowMs();
  }
  throw new Error(`the gateway did not answer '${word}' within ${POLL_BUDGET_MS} ms (last: ${last})`);
}

/** The first word of the body a GET gets (the greeting of the task that answered), or the status. */
function firstWord(url: string, agent: Agent): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent, timeout: 5_000 }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve(res.statusCode === 200 ? (body.split(' ')[0] ?? '') : `HTTP ${res.statusCode}`));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${url} timed out`)));
    req.on('error', reject);
    req.end();
  });
}
