import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ADMIN_TOKEN, ApiClient, removeDataDir, removeInstanceContainers, waitFor } from './docker-harness.js';

const ENTRY = join(import.meta.dirname, '../../src/cli/berth.ts');

/** `berth server` as its own process, for tests that kill or signal it. */
export class ServerProcess {
  child: ChildProcess | null = null;
  output = '';

  constructor(
    readonly dataDir: string,
    readonly basePort: number,
    public extraEnv: Record<string, string> = {},
  ) {}

  get api(): ApiClient {
    return new ApiClient(`http://127.0.0.1:${this.basePort}`, ADMIN_TOKEN);
  }

  get gatewayUrl(): string {
    return `http://127.0.0.1:${this.basePort + 1}`;
  }

  async start(): Promise<void> {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', ENTRY, 'server', '--data-dir', this.dataDir,
        '--api-listen', `127.0.0.1:${this.basePort}`, '--gateway-listen', `127.0.0.1:${this.basePort + 1}`,
        '--gateway-admin-port', String(this.basePort + 2), '--registry-listen', `127.0.0.1:${this.basePort + 3}`,
        '--drain', '0.5', '--stop-grace', '3', '--health-timeout', '8'],
      { env: { ...process.env, BERTH_ADMIN_TOKEN: ADMIN_TOKEN, ...this.extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.child = child;
    child.stdout?.on('data', (d) => (this.output += d));
    child.stderr?.on('data', (d) => (this.output += d));
    await waitFor('the API to answer', async () => {
      if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}: ${this.output.slice(-2000)}`);
      return (await fetch(`http://127.0.0.1:${this.basePort}/healthz`)).ok;
    }, 30_000);
  }

  /** Resolves with the exit code (or signal's name) once the process ends by itself, or 'timeout'. */
  async exited(timeoutMs: number): Promise<number | string> {
    const child = this.child;
    if (!child) throw new Error('server is not running');
    const result =
      child.exitCode !== null || child.signalCode !== null
        ? (child.exitCode ?? child.signalCode ?? -1)
        : await Promise.race([
            new Promise<number | string>((resolve) => child.once('exit', (code, sig) => resolve(code ?? sig ?? -1))),
            new Promise<string>((resolve) => setTimeout(() => resolve('timeout'), timeoutMs)),
          ]);
    if (result !== 'timeout') this.child = null;
    return result;
  }

  /** Sends the signal and resolves with the exit code (or the signal's name). */
  async stop(signal: NodeJS.Signals): Promise<number | string> {
    const child = this.child;
    if (!child || child.exitCode !== null) throw new Error('server is not running');
    const exited = new Promise<number | string>((resolve) => child.once('exit', (code, sig) => resolve(code ?? sig ?? -1)));
    child.kill(signal);
    const result = await Promise.race([
      exited,
      new Promise<string>((resolve) => setTimeout(() => resolve('timeout'), 15_000)),
    ]);
    this.child = null;
    return result;
  }

  /**
   * Leaves nothing behind: stops the server, then nginx and the registry it left running,
   * removes the instance's containers and networks (when it is known) and the data dir.
   */
  async destroy(instance: string | null): Promise<void> {
    if (this.child) await this.stop('SIGTERM');
    for (const file of ['nginx/nginx.pid', 'registry/registry.pid']) {
      let pid: number;
      try {
        pid = Number(readFileSync(join(this.dataDir, file), 'utf8'));
      } catch {
        // Never started, or already removed.
        continue;
      }
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // Not running any more.
      }
    }
    if (instance) removeInstanceContainers(instance);
    removeDataDir(this.dataDir);
  }
}
