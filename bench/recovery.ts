import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ADMIN_TOKEN, waitFor } from '../test/support/docker-harness.js';
import { ServerProcess } from '../test/support/server-process.js';
import { Api, definition } from './lib/api.js';
import { killDataDirProcesses, waitServing } from './lib/bench-server.js';
import type { BenchContext, Scope } from './lib/context.js';
import { BENCH_LABEL, containerInfo, containerIp, containersWithLabel, docker, killContainer, removeContainersWithLabel } from './lib/docker.js';
import { pollConcurrentlyUntilOk, pollUntilOk } from './lib/http.js';
import { HELLO_IMAGE } from './lib/images.js';
import { startLoad, summarizeLoad } from './lib/load.js';
import { sleep } from '../src/process/wait.js';
import { nowMs } from './lib/process.js';
import { paired } from './lib/stats.js';

// Ports 17640-17643 (berth server --api-listen … through --registry-listen).
const BASE_PORT = 17640;
const POLL_MS = 10;
const RATE = 200;
const STALL_MS = 500;
/** A task-killed run slower than this logs the service's events, to show where the time went. */
const SLOW_RECOVERY_MS = 1_000;

export interface RecoveryOptions {
  readonly runs: number;
}

/**
 * How berth recovers. A task killed (1 replica): from the kill to the first 200 through the
 * gateway again, against Docker's own restart policy bringing back a container whose
 * process was killed. A task killed with 2 replicas, under load: failed requests. The
 * server killed with -9 (`berth server` as a child, test/support/server-process.ts) and
 * started again: from the kill to converged (API answers, count_running == count_desired,
 * targets healthy, no extra container), against a clean SIGTERM restart, with the gateway
 * under load throughout.
 */
export async function runRecovery(ctx: BenchContext, options: RecoveryOptions): Promise<void> {
  await ctx.scoped(async (scope) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'berth-bench-rec-'));
    const server = new ServerProcess(dataDir, BASE_PORT);
    let instance = '';
    scope.defer('recovery server', async () => {
      if (server.child) await server.stop('SIGTERM');
      killDataDirProcesses(dataDir);
      if (instance) await removeContainersWithLabel(`io.berth.instance=${instance}`);
      rmSync(dataDir, { recursive: true, force: true });
    });
    ctx.log('recovery: starting `berth server`');
    await server.start();
    const api = await new Api(`http://127.0.0.1:${BASE_PORT}`, ADMIN_TOKEN).project('bench');
    const deploy = async (name: string, replicas: number): Promise<void> => {
      await api.createService(name, { interval: 1 });
      const doc = await api.waitDeployment(name, await api.deploy(name, definition({ replicas })), 60_000);
      if (doc.step !== 'succeeded') throw new Error(`deployment of ${name} ended ${doc.step}: ${doc.reason}`);
      await waitServing(server.gatewayUrl, `/bench-${name}/`);
      instance ||= (await containerInfo(await taskContainer(name, 0))).Config.Labels['io.berth.instance'] ?? '';
    };

    // 1. A task killed, 1 replica.
    const berthKill: number[] = [];
    const dockerRestart: number[] = [];
    for (let i = 0; i < options.runs; i++) {
      const name = `k${i}`;
      await deploy(name, 1);
      const victim = await taskContainer(name, 0);
      const t0 = nowMs();
      // Events carry wall-clock times; nowMs() runs on the monotonic clock, which can drift from it.
      const killedAtWall = Date.now();
      await killContainer(victim);
      const ok = await pollConcurrentlyUntilOk(`${server.gatewayUrl}/bench-${name}/`, {
        intervalMs: POLL_MS,
        timeoutMs: 60_000,
        requestTimeoutMs: 5_000,
        // A 200 counts once the killed task is gone: it then comes from its replacement.
        accept: async () => !(await isRunning(victim)),
      });
      berthKill.push(ok.okAt - t0);
      const restart = await dockerRestartPolicy(ctx.session, scope, i);
      dockerRestart.push(restart);
      ctx.log(`recovery: run ${i + 1}: task killed → 200 via gateway ${(ok.okAt - t0).toFixed(0)} ms (meanwhile ${JSON.stringify(ok.before)}); docker restart policy ${restart.toFixed(0)} ms`);
      if (ok.okAt - t0 > SLOW_RECOVERY_MS) {
        const events = (await api.events(name)).filter((e) => Date.parse(e.created_at) >= killedAtWall - 1_000).reverse();
        ctx.log(`recovery: run ${i + 1} was slow; the service's events (ms after the kill): ${events.map((e) => `${Date.parse(e.created_at) - killedAtWall} ${e.message}`).join('; ')}`);
      }
      await api.remove(name);
    }
    ctx.record({
      bench: 'recovery',
      name: 'task killed (1 replica) → 200 via gateway',
      unit: 'ms',
      values: berthKill,
      baseline: dockerRestart,
      comparisons: paired(berthKill, dockerRestart, (x, y) => x / y),
      goal: { kind: 'info' },
      note: 'berth: docker kill of the task (through the Engine API, as the CLI does); baseline: docker run --restart=always, its process killed, poll its address',
    });

    // 2. A task killed, 2 replicas, under load.
    const pairFailures: number[] = [];
    const pairStalled: number[] = [];
    const pairRuns: unknown[] = [];
    for (let i = 0; i < Math.min(3, options.runs); i++) {
      const name = `p${i}`;
      await deploy(name, 2);
      const victim = await taskContainer(name, 0);
      const load = await startLoad({ url: `${server.gatewayUrl}/bench-${name}/`, rate: RATE, durationMs: 8_000, maxSockets: 64, timeoutMs: 10_000 });
      await sleep(Math.max(0, load.t0 + 2_000 - nowMs()));
      const killedAt = nowMs();
      await killContainer(victim);
      const samples = await load.done;
      const summary = summarizeLoad(samples);
      const after = summarizeLoad(samples.filter((s) => s[0] >= killedAt));
      const stalled = samples.filter((s) => s[0] >= killedAt && s[1] >= STALL_MS).length;
      pairFailures.push(summary.failures);
      pairStalled.push(stalled);
      pairRuns.push({ summary, afterKill: after, stalled });
      ctx.log(
        `recovery: 2 replicas, one killed: ${summary.requests} requests, ${summary.failures} failed ${JSON.stringify(summary.causes)}, ${stalled} took over ${STALL_MS} ms (max ${after.max.toFixed(0)} ms)`,
      );
      await api.remove(name);
    }
    ctx.record({
      bench: 'recovery',
      name: `failed requests, 1 of 2 tasks killed at ${RATE} req/s`,
      unit: 'requests',
      values: pairFailures,
      goal: { kind: 'value-max', limit: 0 },
    });
    ctx.record({
      bench: 'recovery',
      name: `requests slower than ${STALL_MS} ms, 1 of 2 tasks killed`,
      unit: 'requests',
      values: pairStalled,
      goal: { kind: 'info' },
      note: 'requests sent to the dead address before the route table dropped it wait for the SYN retransmit (1 s)',
    });

    // 3. The server killed with -9, against a clean restart; the gateway under load throughout.
    await deploy('keep', 1);
    const converged = async (): Promise<boolean> => {
      const status = await api.status('keep');
      const containers = await containersWithLabel(`io.berth.instance=${instance}`);
      return (
        status.count_running === status.count_desired &&
        status.count_desired === 1 &&
        containers.length === 1 &&
        status.target_health.targets.every((t: { health: string }) => t.health === 'healthy')
      );
    };
    const killed: number[] = [];
    const clean: number[] = [];
    const serverFailures: number[] = [];
    const cleanFailures: number[] = [];
    const serverRuns: unknown[] = [];
    for (let i = 0; i < Math.min(3, options.runs); i++) {
      for (const signal of (i % 2 === 0 ? ['SIGKILL', 'SIGTERM'] : ['SIGTERM', 'SIGKILL']) as NodeJS.Signals[]) {
        const load = await startLoad({ url: `${server.gatewayUrl}/bench-keep/`, rate: RATE, durationMs: 12_000, maxSockets: 64, timeoutMs: 5_000 });
        await sleep(Math.max(0, load.t0 + 1_000 - nowMs()));
        const t0 = nowMs();
        await server.stop(signal);
        await server.start();
        const apiAt = nowMs();
        await waitFor('the service to converge after the restart', converged, 30_000, 20);
        const convergedAt = nowMs();
        const samples = await load.done;
        const lastSample = samples.reduce((m, s) => Math.max(m, s[0]), 0);
        const summary = summarizeLoad(samples);
        (signal === 'SIGKILL' ? killed : clean).push(convergedAt - t0);
        (signal === 'SIGKILL' ? serverFailures : cleanFailures).push(summary.failures);
        serverRuns.push({ signal, apiMs: apiAt - t0, convergedMs: convergedAt - t0, loadCoveredRestart: lastSample > convergedAt, summary });
        ctx.log(
          `recovery: server ${signal}: API again after ${(apiAt - t0).toFixed(0)} ms, converged after ${(convergedAt - t0).toFixed(0)} ms; gateway meanwhile: ${summary.requests} requests, ${summary.failures} failed ${JSON.stringify(summary.causes)}`,
        );
      }
    }
    // What the restarted servers did to the task: a replacement here means the gateway lost it for a while.
    const events = (await api.events('keep')).map((e) => `${e.created_at} ${e.message}`);
    const replaced = events.filter((e) => /unhealthy|exited|started \d+ task/.test(e));
    if (replaced.length > 1) ctx.log(`recovery: the service's task changed during the restarts: ${JSON.stringify(replaced)}`);
    ctx.raw.recovery = { berthKill, dockerRestart, pairRuns, serverRuns, keepEvents: events };
    ctx.record({
      bench: 'recovery',
      name: 'server kill -9 → converged again',
      unit: 'ms',
      values: killed,
      baseline: clean,
      comparisons: paired(killed, clean, (x, y) => x / y),
      goal: { kind: 'info' },
      note: 'baseline: SIGTERM and start again; both include starting `berth server` (node + tsx)',
    });
    ctx.record({
      bench: 'recovery',
      name: `failed requests at ${RATE} req/s while the server is killed`,
      unit: 'requests',
      values: serverFailures,
      goal: { kind: 'value-max', limit: 0 },
    });
    ctx.record({
      bench: 'recovery',
      name: `failed requests at ${RATE} req/s while the server restarts cleanly`,
      unit: 'requests',
      values: cleanFailures,
      goal: { kind: 'value-max', limit: 0 },
    });
  });
}

async function isRunning(id: string): Promise<boolean> {
  try {
    return (await containerInfo(id)).State.Running;
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode === 404) return false;
    throw error;
  }
}

/** The container of a service's index-th task, found by berth's labels. */
async function taskContainer(service: string, index: number): Promise<string> {
  const ids = await containersWithLabel(`io.berth.service=${service}`, true);
  const mine: string[] = [];
  for (const id of ids) {
    if ((await containerInfo(id)).Config.Labels['io.berth.project'] === 'bench') mine.push(id);
  }
  const id = mine.sort()[index];
  if (!id) throw new Error(`service ${service} has no running task ${index}`);
  return id;
}

/** Docker's own recovery: a --restart=always container whose process is killed, until it answers again. */
async function dockerRestartPolicy(session: string, scope: Scope, round: number): Promise<number> {
  const root = `/restart-${round}`;
  const id = await docker([
    'run', '-d', '--restart=always', '--label', `${BENCH_LABEL}=${session}`,
    '--init', '--memory', '32m', '--memory-swap', '32m', '--security-opt', 'no-new-privileges',
    '-e', `CONTEXT_ROOT=${root}`, HELLO_IMAGE,
  ]);
  scope.defer(`container ${id.slice(0, 12)}`, () => docker(['rm', '-f', id]).catch(() => undefined));
  const ip = await containerIp(id);
  const url = `http://${ip}:80${root}/`;
  await pollUntilOk(url, { intervalMs: POLL_MS, timeoutMs: 30_000 });
  const pid = (await containerInfo(id)).State.Pid;
  const t0 = nowMs();
  process.kill(pid, 'SIGKILL');
  const ok = await pollConcurrentlyUntilOk(url, {
    intervalMs: POLL_MS,
    timeoutMs: 30_000,
    requestTimeoutMs: 5_000,
    // A 200 counts once the engine has restarted the container, not from the dying process.
    accept: async () => {
      const state = (await containerInfo(id)).State;
      return state.Running && state.Pid !== pid;
    },
  });
  await docker(['rm', '-f', id]);
  return ok.okAt - t0;
}

