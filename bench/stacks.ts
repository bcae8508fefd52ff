import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BenchServer, waitServing } from './lib/bench-server.js';
import type { BenchContext } from './lib/context.js';
import { docker } from './lib/docker.js';
import { HELLO_IMAGE, UPSTREAM_IMAGE } from './lib/images.js';
import { startLoad, summarizeLoad } from './lib/load.js';
import { nowMs, timed } from './lib/process.js';
import { paired } from './lib/stats.js';
import { sleep } from '../src/process/wait.js';

// Ports 17790-17793.
const BASE_PORT = 17790;
const REPO = join(import.meta.dirname, '..');
const STEP_TIMEOUT_MS = 180_000;
const READY_TIMEOUT_MS = 60_000;
const RATE = 500;
const BEFORE_MS = 3_000;
const UPDATE_BUDGET_MS = 15_000;

export interface StacksOptions {
  readonly runs: number;
}

/**
 * Five services as a compose file has them: three web servers (one keep-alive nginx, two
 * busybox httpd) and two workers. `up` is done when every web server answers: `compose up -d`
 * with docker-compose (1.29, Debian's) then polling each container until it answers, against
 * `berth compose up -d`, which returns once every service is deployed and health-checked.
 * Both are the CLIs as a user runs them. Rounds alternate which side goes first; a fresh
 * stack each time, taken down (untimed) after.
 */
const STACK = `services:
  api:
    image: ${UPSTREAM_IMAGE}
    ports: ["80"]
    environment:
      GREETING: \${GREETING:-one}
  ui:
    image: ${HELLO_IMAGE}
    ports: ["80"]
  admin:
    image: ${HELLO_IMAGE}
    ports: ["80"]
  worker:
    image: ${HELLO_IMAGE}
    command: ["sleep", "3600"]
  scheduler:
    image: ${HELLO_IMAGE}
    command: ["sleep", "3600"]
`;

export async function runStacks(ctx: BenchContext, options: StacksOptions): Promise<void> {
  await ctx.scoped(async (scope) => {
    await composeVersion();
    ctx.log('stacks: starting a server');
    const server = await BenchServer.start({ basePort: BASE_PORT, drain: '2' });
    scope.defer('stacks server', () => server.destroy());
    const api = await server.admin.project('bench-stk');
    const dir = mkdtempSync(join(tmpdir(), 'berth-bench-stack-'));
    scope.defer('stack files', async () => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'compose.yaml');
    writeFileSync(file, STACK);
    // The environment as the user's shell has it at each call: the update sets GREETING.
    const berth = (stack: string, ...args: string[]) =>
      timed(process.execPath, [join(REPO, 'bin/berth.js'), 'compose', '-f', file, '-p', stack, ...args], { ...process.env, BERTH_URL: server.admin.base, BERTH_TOKEN: api.token, NO_COLOR: '1' }, STEP_TIMEOUT_MS);
    const compose = (stack: string, ...args: string[]) => timed('docker-compose', ['-f', file, '-p', `${stack}-${ctx.session}`, ...args], process.env, STEP_TIMEOUT_MS);

    const berthTimes: number[] = [];
    const composeTimes: number[] = [];
    for (let round = 0; round <= options.runs; round++) {
      const stack = `s${round}`;
      const upBerth = async (): Promise<number> => berth(stack, 'up', '-d');
      const upCompose = async (): Promise<number> => {
        const t0 = nowMs();
        await compose(stack, 'up', '-d');
        await composeServing(`${stack}-${ctx.session}`, ['api', 'ui', 'admin']);
        return nowMs() - t0;
      };
      const [b, c] = round % 2 === 0 ? [await upBerth(), await upCompose()] : await upCompose().then(async (c2) => [await upBerth(), c2] as const);
      await berth(stack, 'down');
      await compose(stack, 'down');
      ctx.log(`stacks: round ${round}${round === 0 ? ' (warm-up)' : ''}: docker-compose up -d ${c.toFixed(0)} ms, berth compose up -d ${b.toFixed(0)} ms`);
      if (round === 0) continue;
      berthTimes.push(b);
      composeTimes.push(c);
    }
    ctx.record({
      bench: 'stacks',
      name: 'compose up -d of 5 services → every web service answers',
      unit: 'ms',
      values: berthTimes,
      baseline: composeTimes,
      comparisons: paired(berthTimes, composeTimes, (x, y) => x / y),
      goal: { kind: 'ratio-max', limit: 1.25 },
      note: 'baseline: docker-compose 1.29 up -d of the same file, then polling each web container; berth returns once every service is deployed and health-checked',
    });

    const failures = await updateUnderLoad(ctx, server, berth);
    ctx.record({
      bench: 'stacks',
      name: `failed requests at ${RATE} req/s while a stack's routed service is updated`,
      unit: 'requests',
      values: failures,
      goal: { kind: 'value-max', limit: 0 },
      note: 'berth compose up -d with one changed variable; the other four services are left alone',
    });
  });
}

async function updateUnderLoad(ctx: BenchContext, server: BenchServer, berth: (stack: string, ...args: string[]) => Promise<number>): Promise<number[]> {
  const url = `${server.gatewayUrl}/bench-stk-live-api/`;
  process.env.GREETING = 'v0';
  await berth('live', 'up', '-d');
  await waitServing(server.gatewayUrl, '/bench-stk-live-api/');
  const failures: number[] = [];
  for (let i = 1; i <= 3; i++) {
    const load = await startLoad({ url, rate: RATE, durationMs: BEFORE_MS + UPDATE_BUDGET_MS, maxSockets: 64, timeoutMs: 5_000 });
    await sleep(Math.max(0, load.t0 + BEFORE_MS - nowMs()));
    process.env.GREETING = `v${i}`;
    const ms = await berth('live', 'up', '-d');
    const summary = summarizeLoad(await load.done);
    ctx.log(`stacks: update ${i} under load: up -d ${ms.toFixed(0)} ms, ${summary.requests} requests, ${summary.failures} failed ${JSON.stringify(summary.causes)}`);
    failures.push(summary.failures);
  }
  delete process.env.GREETING;
  await berth('live', 'down');
  return failures;
}

/** Until each web container of the compose project answers on its port 80. */
async function composeServing(project: string, services: readonly string[]): Promise<void> {
  const deadline = nowMs() + READY_TIMEOUT_MS;
  const addresses: string[] = [];
  for (const service of services) {
    const id = await docker(['ps', '-q', '--filter', `label=com.docker.compose.project=${project}`, '--filter', `label=com.docker.compose.service=${service}`]);
    addresses.push(await docker(['inspect', '-f', '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}', id.trim()]));
  }
  for (const address of addresses) {
    while (!(await answers(address))) {
      if (nowMs() > deadline) throw new Error(`${address}:80 did not answer within ${READY_TIMEOUT_MS} ms`);
      await sleep(10);
    }
  }
}

function answers(host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ host, port: 80, path: '/', agent: false, timeout: 1_000 }, (res) => {
      res.resume();
      resolve((res.statusCode ?? 500) < 500);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

/** Runs a command to its end; resolves with its wall time in ms. */

async function composeVersion(): Promise<void> {
  await timed('docker-compose', ['version'], process.env, STEP_TIMEOUT_MS).catch(() => {
    throw new Error("the stacks bench measures against Debian's docker-compose: apt-get install -y docker-compose");
  });
}
