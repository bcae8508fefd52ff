import { mkdir, rm } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InternalError } from '../domain/errors.js';
import { SupervisedProcess } from '../process/supervised-process.js';
import { pollUntil, sleep } from '../process/wait.js';
import { GatewayReloadError, GatewayRoutesRejectedError, GatewayUnavailableError } from './errors.js';
import type { Gateway, Route } from './gateway.js';
import { NginxAdminClient } from './nginx-admin-client.js';
import { NginxConfigFile } from './nginx-config-file.js';
import { nginxPaths, renderNginxConfig, type NginxConfig, type NginxPaths } from './nginx-config.js';

/** The Lua modules beside this file (the build copies src/gateway/lua to dist/gateway/lua). */
export const GATEWAY_LUA_DIR = fileURLToPath(new URL('./lua', import.meta.url));

export interface NginxGatewayOptions {
  /** A directory the gateway owns: nginx.conf, nginx.pid, logs/, tmp/, run/ (sockets). */
  readonly dataDir: string;
  readonly listenHost: string;
  readonly listenPort: number;
  /** The admin endpoint listens on 127.0.0.1 at this port. */
  readonly adminPort: number;
  /** Default: GATEWAY_LUA_DIR. */
  readonly luaDir?: string;
  /** Default: /usr/sbin/nginx. */
  readonly nginxBinary?: string;
  /** Default: /usr/lib/nginx/modules (Debian). */
  readonly modulesDir?: string;
  /** How long nginx may take to answer after a spawn or adoption; default 10 s. */
  readonly readyTimeoutMs?: number;
  /** Receives failures of background work, such as the push after nginx restarted; default process.emitWarning. */
  readonly onError?: (error: Error) => void;
}

const ADMIN_TIMEOUT_MS = 2_000;
const READY_PROBE_TIMEOUT_MS = 1_000;
const RELOAD_TIMEOUT_MS = 5_000;
const PUSH_ATTEMPTS = 5;
const PUSH_RETRY_BASE_MS = 100;

/**
 * The gateway data plane: nginx with a Lua route table. nginx outlives berth; start()
 * adopts a running one through its pid file, reloads it only if it runs another config,
 * and the supervisor restarts it when it dies. After every (re)start or adoption the last
 * table berth set is pushed again, because a new nginx starts with an empty one.
 */
export class NginxGateway implements Gateway {
  private readonly paths: NginxPaths;
  private readonly admin: NginxAdminClient;
  private readonly configFile: NginxConfigFile;
  private readonly supervisor: SupervisedProcess;
  private readonly halt = new AbortController();
  /** Null until setRoutes: an adopted nginx keeps the table it has until berth knows better. */
  private routes: readonly Route[] | null = null;
  private pushes: Promise<void> = Promise.resolve();

  constructor(private readonly options: NginxGatewayOptions) {
    this.paths = nginxPaths(options.dataDir);
    this.admin = new NginxAdminClient(options.adminPort);
    const nginxBinary = options.nginxBinary ?? '/usr/sbin/nginx';
    this.configFile = new NginxConfigFile(this.paths.configFile, nginxBinary);
    this.supervisor = new SupervisedProcess({
      name: 'nginx',
      command: nginxBinary,
      args: ['-c', this.paths.configFile],
      pidFile: this.paths.pidFile,
      writesOwnPidFile: true,
      ready: () => this.answers(),
      readyTimeoutMs: options.readyTimeoutMs ?? 10_000,
      logFile: this.paths.processLog,
      // A SIGKILLed nginx leaves its unix sockets behind, and a new one cannot bind over them.
      beforeSpawn: () => this.removeSockets(),
    });
    this.supervisor.onReady(() => this.pushAfterRestart());
  }

  /**
   * Writes nginx.conf (checked with `nginx -t`; a rejected config leaves the previous file
   * and a running nginx untouched), then adopts or spawns nginx and makes it run that config.
   */
  async start(): Promise<void> {
    const config = this.render();
    for (const dir of [this.options.dataDir, dirname(this.paths.errorLog), this.paths.tempDir, dirname(this.paths.notFoundSocket)]) {
      await mkdir(dir, { recursive: true, mode: 0o700 });
    }
    await this.configFile.apply(config.text, async () => {
      await this.supervisor.start();
      try {
        await this.activate(config);
      } catch (error) {
        // nginx keeps serving its previous config; leave it to the next start.
        await this.supervisor.detach();
        throw error;
      }
    });
  }

  async setRoutes(routes: readonly Route[]): Promise<void> {
    if (this.halt.signal.aborted) throw new GatewayUnavailableError('the gateway was stopped or detached');
    this.routes = routes;
    await this.enqueuePush();
  }

  /** Stops supervising; nginx keeps serving the current table for the next berth to adopt. */
  async detach(): Promise<void> {
    this.halt.abort();
    await this.supervisor.detach();
    await this.pushes;
  }

  /** Terminates nginx. */
  async stop(): Promise<void> {
    this.halt.abort();
    await this.supervisor.stop();
    await this.pushes;
  }

  /** nginx's master pid, or null while it is not running. */
  pid(): number | null {
    return this.supervisor.pid();
  }

  private render(): NginxConfig {
    return renderNginxConfig({
      listenHost: this.options.listenHost,
      listenPort: this.options.listenPort,
      adminPort: this.options.adminPort,
      paths: this.paths,
      luaDir: this.options.luaDir ?? GATEWAY_LUA_DIR,
      modulesDir: this.options.modulesDir ?? '/usr/lib/nginx/modules',
      workerUser: process.geteuid?.() === 0 ? userInfo().username : undefined,
    });
  }

  /** Reloads nginx when it runs another config than this one, and checks that it took it. */
  private async activate(config: NginxConfig): Promise<void> {
    if ((await this.admin.configId(ADMIN_TIMEOUT_MS)) === config.id) return;
    this.supervisor.signal('SIGHUP');
    let lastError: unknown;
    const reloaded = await pollUntil(
      async () => {
        try {
          return (await this.admin.configId(ADMIN_TIMEOUT_MS)) === config.id;
        } catch (error) {
          lastError = error;
          return false;
        }
      },
      { timeoutMs: RELOAD_TIMEOUT_MS, intervalMs: 50, signal: this.halt.signal },
    );
    if (!reloaded) {
      throw new GatewayReloadError(
        `nginx (pid ${this.supervisor.pid() ?? '?'}) kept its previous configuration after SIGHUP; see ${this.paths.errorLog}`,
        { cause: lastError },
      );
    }
  }

  private async answers(): Promise<boolean> {
    try {
      await this.admin.configId(READY_PROBE_TIMEOUT_MS);
      return true;
    } catch (error) {
      if (error instanceof GatewayUnavailableError) return false;
      throw error;
    }
  }

  private pushAfterRestart(): void {
    if (this.routes === null || this.halt.signal.aborted) return;
    this.enqueuePush().catch((error: unknown) => this.report(error));
  }

  /** Pushes run one at a time, each sending the latest table, so an older table never lands last. */
  private enqueuePush(): Promise<void> {
    const push = this.pushes.then(() => this.pushLatest());
    // The chain only orders pushes; each failure is delivered to the caller that asked for it.
    this.pushes = push.then(
      () => undefined,
      () => undefined,
    );
    return push;
  }

  private async pushLatest(): Promise<void> {
    const routes = this.routes;
    if (routes === null) return;
    let lastError: unknown;
    for (let attempt = 1; attempt <= PUSH_ATTEMPTS; attempt += 1) {
      try {
        await this.admin.putRoutes(routes, ADMIN_TIMEOUT_MS);
        return;
      } catch (error) {
        if (error instanceof GatewayRoutesRejectedError) throw error;
        lastError = error;
      }
      if (attempt < PUSH_ATTEMPTS && !(await sleep(PUSH_RETRY_BASE_MS * 2 ** (attempt - 1), this.halt.signal))) break;
    }
    throw new GatewayUnavailableError(`nginx did not take the route table (${routes.length} routes)`, {
      cause: lastError,
    });
  }

  private async removeSockets(): Promise<void> {
    await rm(this.paths.notFoundSocket, { force: true });
    await rm(this.paths.unavailableSocket, { force: true });
  }

  private report(error: unknown): void {
    const reported = error instanceof Error ? error : new InternalError(String(error));
    if (this.options.onError) this.options.onError(reported);
    else process.emitWarning(reported);
  }
}
