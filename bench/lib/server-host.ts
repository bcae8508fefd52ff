/**
 * A berth server in a process of its own, started by BenchServer: the same composition
 * root as `berth server` (BerthServer.start), watched through its onPass hook, which
 * reports each reconcile pass's duration. With the reconciler kicked continuously,
 * passes run back to back, so the CPU the process used between two reports is one pass's.
 *
 * Messages from the parent: {id, type: 'passes', count} | {id, type: 'activity'} | {id, type: 'shutdown'}.
 * With cpuProfileDir set, each 'passes' measurement also writes a CPU profile of its
 * passes there (open it in Chrome DevTools, or summarise it with bench/lib/profile.ts).
 */
import { writeFileSync } from 'node:fs';
import { constants as perfConstants, monitorEventLoopDelay, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import { resolveServerConfig, type RawServerOptions } from '../../src/server/config.js';
import { BerthServer } from '../../src/server/server.js';

export interface HostConfig {
  readonly dataDir: string;
  readonly basePort: number;
  readonly adminToken: string;
  readonly healthTimeout: string;
  readonly drain: string;
  readonly stopGrace: string;
  readonly cpuProfileDir?: string;
  /** Any other server flags (TLS, say). */
  readonly extra?: RawServerOptions;
}

export type HostRequest =
  | { readonly id: number; readonly type: 'passes'; readonly count: number; readonly afterWrite?: boolean }
  | { readonly id: number; readonly type: 'activity' }
  | { readonly id: number; readonly type: 'shutdown' };

/** What happened in the server since the previous 'activity' request. */
export interface Activity {
  readonly seconds: number;
  /** Reconcile passes ended. */
  readonly passes: number;
  /** Event-loop delay: how long ready work waited, in ms. */
  readonly loopDelayP99Ms: number;
  readonly loopDelayMaxMs: number;
}

export type HostMessage =
  | { readonly type: 'ready'; readonly instance: string }
  | { readonly type: 'reply'; readonly id: number; readonly ok: true; readonly result: unknown }
  | { readonly type: 'reply'; readonly id: number; readonly ok: false; readonly error: string };

const PASS_TIMEOUT_MS = 120_000;
const PROFILE_SAMPLING_US = 50;

/** What measurePasses answers: each pass's duration and CPU, and the garbage collector's pauses meanwhile. */
export interface PassTimes {
  readonly passMs: number[];
  /** CPU time (user + system) the server process used in each pass: berth's own work, not the engine's. */
  readonly cpuMs: number[];
  /** Garbage-collection pauses during the passes, in ms per pass. */
  readonly gcMsPerPass: number;
  /** Full (mark-compact) collections during the passes. */
  readonly majorGcs: number;
}

/** Reports of the passes as they end. */
class PassLog {
  readonly durations: number[] = [];
  readonly cpu: NodeJS.CpuUsage[] = [];
  recording = false;
  /** Run between two recorded passes: a store write, so that the next pass cannot use what it read before as it is. */
  between: (() => void) | null = null;
  /** Passes ended so far, recording or not. */
  passes = 0;
  gcMs = 0;
  majorGcs = 0;

  gc(entry: PerformanceEntry): void {
    if (!this.recording) return;
    this.gcMs += entry.duration;
    if ((entry as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind === perfConstants.NODE_PERFORMANCE_GC_MAJOR) this.majorGcs++;
  }

  record(durationMs: number): void {
    this.passes++;
    if (!this.recording) return;
    this.durations.push(durationMs);
    this.cpu.push(process.cpuUsage());
    this.between?.();
  }
}

/**
 * A write to one service row that changes nothing berth acts on, as an API call writes:
 * the pass after it compares every row's version and reads that row again (ADR 007).
 */
function touchStore(server: BerthServer): () => void {
  const touch = server.store.db.prepare('UPDATE services SET steady = steady WHERE id = (SELECT min(id) FROM services)');
  return () => {
    touch.run();
  };
}

function send(message: HostMessage): void {
  process.send?.(message);
}

async function measurePasses(
  server: BerthServer,
  log: PassLog,
  count: number,
  afterWrite: boolean,
  profileDir?: string,
): Promise<PassTimes> {
  log.between = afterWrite ? touchStore(server) : null;
  if (!profileDir) return timePasses(server, log, count);
  const session = new Session();
  session.connect();
  try {
    await session.post('Profiler.enable');
    // A pass takes about a millisecond: the default interval (1 ms) would see one sample in it.
    await session.post('Profiler.setSamplingInterval', { interval: PROFILE_SAMPLING_US });
    await session.post('Profiler.start');
    const times = await timePasses(server, log, count);
    const { profile } = await session.post('Profiler.stop');
    const services = server.store.services.listAll().length;
    writeFileSync(join(profileDir, `passes-${afterWrite ? 'after-write-' : ''}${services}-services-${Date.now()}.cpuprofile`), JSON.stringify(profile));
    return times;
  } finally {
    session.disconnect();
  }
}

async function timePasses(server: BerthServer, log: PassLog, count: number): Promise<PassTimes> {
  log.durations.length = 0;
  log.cpu.length = 0;
  log.gcMs = 0;
  log.majorGcs = 0;
  log.recording = true;
  // A kick during a pass makes the loop start the next one as soon as it ends.
  const kicker = setInterval(() => server.reconciler.kick(), 1);
  const deadline = Date.now() + PASS_TIMEOUT_MS;
  try {
    // The first report ends a pass that began before the measurement: it only marks the CPU.
    while (log.durations.length < count + 1) {
      if (Date.now() > deadline) throw new Error(`only ${Math.max(0, log.durations.length - 1)} passes within ${PASS_TIMEOUT_MS} ms`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  } finally {
    clearInterval(kicker);
    log.recording = false;
  }
  const cpu = log.cpu.slice(0, count + 1);
  return {
    passMs: log.durations.slice(1, count + 1),
    cpuMs: cpu.slice(1).map((c, i) => (c.user + c.system - (cpu[i] as NodeJS.CpuUsage).user - (cpu[i] as NodeJS.CpuUsage).system) / 1000),
    gcMsPerPass: log.gcMs / count,
    majorGcs: log.majorGcs,
  };
}

async function main(): Promise<void> {
  const host = JSON.parse(process.argv[2] ?? '{}') as HostConfig;
  const config = resolveServerConfig(
    {
      dataDir: host.dataDir,
      apiListen: `127.0.0.1:${host.basePort}`,
      gatewayListen: `127.0.0.1:${host.basePort + 1}`,
      gatewayAdminPort: String(host.basePort + 2),
      registryListen: `127.0.0.1:${host.basePort + 3}`,
      healthTimeout: host.healthTimeout,
      drain: host.drain,
      stopGrace: host.stopGrace,
      ...host.extra,
    },
    { BERTH_ADMIN_TOKEN: host.adminToken },
  );
  const log = new PassLog();
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) log.gc(entry);
  }).observe({ entryTypes: ['gc'] });
  const server = await BerthServer.start(config, { logLevel: 'warn', onPass: (ms) => log.record(ms) });
  const loop = monitorEventLoopDelay({ resolution: 5 });
  loop.enable();
  let since = { at: performance.now(), passes: log.passes };
  const activity = async (): Promise<Activity> => {
    const now = { at: performance.now(), passes: log.passes };
    const result: Activity = {
      seconds: (now.at - since.at) / 1000,
      passes: now.passes - since.passes,
      loopDelayP99Ms: loop.percentile(99) / 1e6,
      loopDelayMaxMs: loop.max / 1e6,
    };
    since = now;
    loop.reset();
    return result;
  };
  let stopping: Promise<void> | null = null;
  const shutdown = (): Promise<void> => (stopping ??= server.shutdownAll());
  // The parent died, went away or asks us to stop: stop nginx and the registry rather than leave them running.
  const exit = (): void => {
    shutdown().finally(() => process.exit(0));
  };
  process.on('disconnect', exit);
  process.on('SIGTERM', exit);
  process.on('message', (request: HostRequest) => {
    const reply = (work: Promise<unknown>): void => {
      work.then(
        (result) => send({ type: 'reply', id: request.id, ok: true, result }),
        (error: unknown) => send({ type: 'reply', id: request.id, ok: false, error: (error as Error).stack ?? String(error) }),
      );
    };
    if (request.type === 'passes') reply(measurePasses(server, log, request.count, request.afterWrite ?? false, host.cpuProfileDir));
    else if (request.type === 'activity') reply(activity());
    else if (request.type === 'shutdown') reply(shutdown());
  });
  send({ type: 'ready', instance: server.instance });
}

main().catch((error: unknown) => {
  process.stderr.write(`server host failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
