import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Api } from './api.js';
import { removeContainersWithLabel } from './docker.js';
import type { RawServerOptions } from '../../src/server/config.js';
import { settlesWithin } from '../../src/process/wait.js';
import { waitFor } from '../../test/support/docker-harness.js';
import type { Activity, HostConfig, HostMessage, HostRequest, PassTimes } from './server-host.js';

export const ADMIN_TOKEN = 'bench-admin-token';

const HOST_ENTRY = join(import.meta.dirname, 'server-host.ts');
const START_TIMEOUT_MS = 60_000;
const REQUEST_TIMEOUT_MS = 180_000;

export interface BenchServerOptions {
  /** A server takes four ports from here: API, gateway, gateway admin, registry. */
  readonly basePort: number;
  readonly healthTimeout?: string;
  readonly drain?: string;
  readonly stopGrace?: string;
  /** Any other server flags (TLS, say). */
  readonly extra?: RawServerOptions;
}

/** A berth server in a child process (bench/lib/server-host.ts), with its own data dir. */
export class BenchServer {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private output = '';

  private constructor(
    readonly child: ChildProcess,
    readonly dataDir: string,
    readonly basePort: number,
    public instance: string,
  ) {}

  static async start(options: BenchServerOptions): Promise<BenchServer> {
    const dataDir = mkdtempSync(join(tmpdir(), 'berth-bench-'));
    const config: HostConfig = {
      dataDir,
      basePort: options.basePort,
      adminToken: ADMIN_TOKEN,
      healthTimeout: options.healthTimeout ?? '60',
      drain: options.drain ?? '2',
      stopGrace: options.stopGrace ?? '10',
      ...(options.extra === undefined ? {} : { extra: options.extra }),
      // BENCH_CPU_PROF=DIR: profile the reconcile passes the scale bench times.
      ...(process.env.BENCH_CPU_PROF ? { cpuProfileDir: process.env.BENCH_CPU_PROF } : {}),
    };
    const child = spawn(process.execPath, ['--import', 'tsx', HOST_ENTRY, JSON.stringify(config)], {
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    const server = new BenchServer(child, dataDir, options.basePort, '');
    child.stdout?.on('data', (d: Buffer) => server.note(d));
    child.stderr?.on('data', (d: Buffer) => server.note(d));
    const ready = new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`server host did not start within ${START_TIMEOUT_MS} ms: ${server.tail()}`)), START_TIMEOUT_MS);
      child.on('message', (message: HostMessage) => {
        if (message.type === 'ready') {
          clearTimeout(timer);
          resolve(message.instance);
        } else server.settle(message);
      });
      child.on('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`server host exited (${code ?? signal}): ${server.tail()}`));
        for (const p of server.pending.values()) p.reject(new Error(`server host exited (${code ?? signal})`));
        server.pending.clear();
      });
    });
    try {
      server.instance = await ready;
    } catch (error) {
      await server.destroy();
      throw error;
    }
    return server;
  }

  get apiUrl(): string {
    return `http://127.0.0.1:${this.basePort}`;
  }

  get gatewayUrl(): string {
    return `http://127.0.0.1:${this.basePort + 1}`;
  }

  get admin(): Api {
    return new Api(this.apiUrl, ADMIN_TOKEN);
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** Resident set size of the server process, from /proc (VmRSS). */
  rssMiB(): number {
    return vmRssMiB(this.pid);
  }

  /**
   * Durations of `count` consecutive full reconcile passes, and the engine's listing timed
   * after them, in ms. With afterWrite, a write to one service row comes before each pass.
   */
  async passDurations(count: number, afterWrite = false): Promise<PassTimes> {
    return (await this.request({ type: 'passes', count, afterWrite })) as PassTimes;
  }

  /** Passes and event-loop delay since the previous call (the first call starts the count). */
  async activity(): Promise<Activity> {
    return (await this.request({ type: 'activity' })) as Activity;
  }

  /** The last lines the server logged (warnings and errors). */
  tail(chars = 3000): string {
    return this.output.slice(-chars);
  }

  /** Stops the server with nginx and the registry, removes its containers and its data dir. */
  async destroy(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null && this.child.connected) {
      try {
        await this.request({ type: 'shutdown' }, 30_000);
      } catch {
        // Stopped below by signal.
      }
    }
    await stopChild(this.child);
    killDataDirProcesses(this.dataDir);
    if (this.instance) await removeContainersWithLabel(`io.berth.instance=${this.instance}`);
    rmSync(this.dataDir, { recursive: true, force: true });
  }

  private request(body: { type: HostRequest['type']; count?: number; afterWrite?: boolean }, timeoutMs = REQUEST_TIMEOUT_MS): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`server host did not answer ${body.type} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.child.send({ ...body, id } as HostRequest);
    });
  }

  private settle(message: HostMessage): void {
    if (message.type !== 'reply') return;
    const waiter = this.pending.get(message.id);
    if (!waiter) return;
    this.pending.delete(message.id);
    if (message.ok) waiter.resolve(message.result);
    else waiter.reject(new Error(message.error));
  }

  private note(data: Buffer): void {
    this.output = (this.output + data.toString()).slice(-20_000);
  }
}

export function vmRssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+) kB/m.exec(status);
  if (!match) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(match[1]) / 1024;
}

/** SIGTERM, then SIGKILL after 10 s; resolves once the child has exited. */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  if (!(await settlesWithin(exited, 10_000))) {
    child.kill('SIGKILL');
    await settlesWithin(exited, 5_000);
  }
}

/**
 * nginx and the registry outlive a server that was killed; stop the ones this data dir
 * started (their command lines name it, so a recycled pid is never signalled).
 */
export function killDataDirProcesses(dataDir: string): void {
  for (const file of ['nginx/nginx.pid', 'registry/registry.pid']) {
    let pid: number;
    try {
      pid = Number(readFileSync(join(dataDir, file), 'utf8').trim());
    } catch {
      continue;
    }
    if (!Number.isInteger(pid) || pid <= 0) continue;
    let cmdline = '';
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
    } catch {
      continue;
    }
    if (!cmdline.includes(dataDir)) continue;
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // Already gone.
    }
  }
}

/** Waits (bounded) until the gateway answers 200 on path. */
export async function waitServing(gatewayUrl: string, path: string, timeoutMs = 30_000): Promise<void> {
  await waitFor(
    `${gatewayUrl}${path} to answer 200`,
    async () => (await fetch(`${gatewayUrl}${path}`, { signal: AbortSignal.timeout(2_000) })).status === 200,
    timeoutMs,
    50,
  );
}
