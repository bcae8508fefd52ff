import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultWorkerDir } from '../../src/gateway/nginx-gateway.js';
import { resolveServerConfig, type RawServerOptions } from '../../src/server/config.js';
import { BerthServer, type ServerParts } from '../../src/server/server.js';
import type { TaskSpec } from '../../src/runtime/task-runtime.js';
import { BASE_CAPABILITIES } from '../../src/domain/definition.js';

export const DEMO_IMAGE = 'berth-demo/hello:1';
export const ADMIN_TOKEN = 'integration-admin-token';

let imageBuilt = false;

/** Builds the busybox demo image once per test run (nothing can be pulled here). */
export function ensureDemoImage(): void {
  if (imageBuilt) return;
  execFileSync('bash', [join(import.meta.dirname, '../../scripts/build-demo-image.sh'), DEMO_IMAGE], { stdio: 'pipe' });
  imageBuilt = true;
}

export function docker(...args: string[]): string {
  return execFileSync('docker', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

export interface TestServer {
  server: BerthServer;
  dataDir: string;
  api: ApiClient;
  gatewayUrl: string;
  restart(extraFlags?: Record<string, string>): Promise<void>;
  /** Stops the server, removes every container of its instance, deletes the data dir. */
  destroy(): Promise<void>;
}

/** A server takes four ports from `basePort`: API, gateway, gateway admin, registry. */
export interface ServerFlags {
  basePort: number;
  memoryCapacity?: string;
  healthTimeout?: string;
  drain?: string;
  stopGrace?: string;
  /** Where the API and the registry listen (default 127.0.0.1); Swarm nodes reach them on their bridge's address. */
  controlHost?: string;
  /** Any other server flags (TLS, say). */
  extra?: RawServerOptions;
}

export async function startTestServer(flags: ServerFlags, parts: ServerParts = {}, dataDir?: string): Promise<TestServer> {
  ensureDemoImage();
  const dir = dataDir ?? mkdtempSync(join(tmpdir(), 'berth-it-'));
  const config = () =>
    resolveServerConfig(
      {
        dataDir: dir,
        apiListen: `${flags.controlHost ?? '127.0.0.1'}:${flags.basePort}`,
        gatewayListen: `127.0.0.1:${flags.basePort + 1}`,
        gatewayAdminPort: String(flags.basePort + 2),
        registryListen: `${flags.controlHost ?? '127.0.0.1'}:${flags.basePort + 3}`,
        ...(flags.memoryCapacity ? { memoryCapacity: flags.memoryCapacity } : {}),
        healthTimeout: flags.healthTimeout ?? '8',
        drain: flags.drain ?? '0.5',
        stopGrace: flags.stopGrace ?? '3',
        ...flags.extra,
      },
      { BERTH_ADMIN_TOKEN: ADMIN_TOKEN },
    );
  const handle: TestServer = {
    server: await BerthServer.start(config(), { logLevel: 'warn', ...parts }),
    dataDir: dir,
    api: new ApiClient(`http://${flags.controlHost ?? '127.0.0.1'}:${flags.basePort}`, ADMIN_TOKEN),
    gatewayUrl: `http://127.0.0.1:${flags.basePort + 1}`,
    async restart() {
      await handle.server.stop();
      handle.server = await BerthServer.start(config(), { logLevel: 'warn', ...parts });
    },
    async destroy() {
      const instance = handle.server.instance;
      await handle.server.shutdownAll();
      removeInstanceContainers(instance);
      removeDataDir(dir);
    },
  };
  return handle;
}

/** Removes a server's data dir, and the dir its gateway's workers used outside it. */
export function removeDataDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  // The server's gateway keeps its data under <dir>/nginx, and its workers' dir is named after that.
  for (const gatewayDir of [dir, join(dir, 'nginx')]) rmSync(defaultWorkerDir(gatewayDir), { recursive: true, force: true });
}

/** Removes every container, network and volume of the instance. */
export function removeInstanceContainers(instance: string): void {
  const ids = docker('ps', '-aq', '--filter', `label=io.berth.instance=${instance}`);
  if (ids) docker('rm', '-f', ...ids.split('\n'));
  const networks = docker('network', 'ls', '-q', '--filter', `label=io.berth.instance=${instance}`);
  if (networks) docker('network', 'rm', ...networks.split('\n'));
  const volumes = docker('volume', 'ls', '-q', '--filter', `label=io.berth.instance=${instance}`);
  if (volumes) docker('volume', 'rm', ...volumes.split('\n'));
}

export function instanceContainers(instance: string, extraFilter?: string): string[] {
  const args = ['ps', '-aq', '--filter', `label=io.berth.instance=${instance}`];
  if (extraFilter) args.push('--filter', extraFilter);
  const out = docker(...args);
  return out ? out.split('\n') : [];
}

export class ApiClient {
  constructor(
    readonly base: string,
    public token: string,
  ) {}

  async call(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
    const res = await fetch(`${this.base}${path}`, {
      method,
      headers: { 'x-auth-token': this.token, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, json: text ? JSON.parse(text) : null };
  }

  async project(name: string): Promise<ApiClient> {
    const res = await this.call('POST', '/projects', { name });
    if (res.status !== 201) throw new Error(`creating project ${name}: ${res.status} ${JSON.stringify(res.json)}`);
    return new ApiClient(this.base, res.json.token);
  }

  async status(service: string): Promise<any> {
    const res = await this.call('GET', `/services/${service}`);
    if (res.status !== 200) throw new Error(`status of ${service}: ${res.status} ${JSON.stringify(res.json)}`);
    return res.json.status;
  }
}

/** Asks the server's reconciler for `n` full passes and waits until they have ended. */
export async function afterPasses(server: BerthServer, n = 2): Promise<void> {
  for (let i = 0; i < n; i++) {
    const target = server.reconciler.passCount() + 1;
    server.reconciler.kick();
    await waitFor(`pass ${i + 1} of ${n}`, async () => server.reconciler.passCount() >= target, 30_000, 10);
  }
}

/** Polls until `check` returns a truthy value, or fails with the last value seen. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | null | false>,
  timeoutMs = 30_000,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value) return value;
      last = value;
    } catch (error) {
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last: ${last instanceof Error ? last.message : JSON.stringify(last)}`);
}

export function definition(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    image: DEMO_IMAGE,
    'memory-reservation': 16,
    'memory-limit': 32,
    'container-port': 80,
    environment: [{ name: 'GREETING', value: 'hello' }],
    ...overrides,
  };
}

export async function waitForDeployment(api: ApiClient, service: string, deploymentId: number, timeoutMs = 60_000): Promise<any> {
  return waitFor(
    `deployment ${deploymentId} of ${service} to finish`,
    async () => {
      const res = await api.call('GET', `/services/${service}/deployments/${deploymentId}`);
      return res.json?.finished ? res.json : null;
    },
    timeoutMs,
  );
}

/**
 * Runs the docker CLI without blocking the event loop: the engine calls back to
 * the in-process API (the registry token endpoint) while docker login/push run.
 */
export function dockerAsync(args: readonly string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('docker', [...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`docker ${args[0]} … exited ${code}: ${err}`))));
    child.stdin.end(input ?? '');
  });
}

/** A container of the demo image as the runtime would create one for a task. */
export function demoTaskSpec(name: string, labels: Readonly<Record<string, string>>): TaskSpec {
  return {
    name,
    image: DEMO_IMAGE,
    labels,
    env: [],
    command: null,
    memoryLimitBytes: 32 * 1024 * 1024,
    memoryReservationBytes: 0,
    logMaxBytes: 1024 * 1024,
    networks: [{ name: 'bridge', aliases: [] }],
    capabilities: [...BASE_CAPABILITIES],
    pidsLimit: 512,
    cpuLimit: 1,
    mounts: [],
  };
}
