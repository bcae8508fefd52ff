import { createHash } from 'node:crypto';
import { access, chmod, chown, mkdir, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SupervisedProcess } from '../process/supervised-process.js';
import { pollUntil, sleep } from '../process/wait.js';
import { GatewayReloadError, GatewayTableWriteError, GatewayUnavailableError } from './errors.js';
import type { CertificateServing, Gateway, Route, RouteRejection } from './gateway.js';
import { NginxAdminClient } from './nginx-admin-client.js';
import { parseRouteMetrics, type RouteMetricsReport } from './route-metrics.js';
import { NginxConfigFile } from './nginx-config-file.js';
import { nginxPaths, renderNginxConfig, type NginxConfig, type NginxPaths, type NginxTlsInput } from './nginx-config.js';
import { renderRouteTable, RouteTableFile } from './route-table-file.js';
import { AcmeChallengeFiles } from './acme-challenge-files.js';
import { ServedCertificates } from './served-certificates.js';
import { WorkerFiles } from './worker-files.js';
import { DEFAULT_WORKER_USERS, lookupWorkerUser, type WorkerUser } from './worker-user.js';

/**
 * berth's nginx module, which `npm run build` compiles into build/nginx/ at the top of the
 * project: two levels up from both src/gateway/ and dist/gateway/.
 */
export const GATEWAY_MODULE_FILE = fileURLToPath(
  new URL('../../build/nginx/ngx_http_berth_routes_module.so', import.meta.url),
);

export interface NginxGatewayOptions {
  /** A directory only the gateway's master uses: nginx.conf, nginx.pid, logs/. */
  readonly dataDir: string;
  /**
   * Where the workers find the route table, the internal sockets and temp dirs. When berth
   * runs as root the workers run as an unprivileged user, who must be able to reach it
   * wherever the data dir is (under /root, say): default /run/berth/gateway-<hash of the data
   * dir>. Otherwise the data dir.
   */
  readonly workerDir?: string;
  /** When berth runs as root: the account nginx's workers run as (default www-data, else nobody). */
  readonly workerUser?: string;
  readonly listenHost: string;
  readonly listenPort: number;
  /** The admin endpoint listens on 127.0.0.1 at this port. */
  readonly adminPort: number;
  /** Default: GATEWAY_MODULE_FILE. */
  readonly moduleFile?: string;
  /** Default: /usr/sbin/nginx. */
  readonly nginxBinary?: string;
  /** How long nginx may take to answer after a spawn or adoption; default 10 s. */
  readonly readyTimeoutMs?: number;
  /** Host routing: `<name>.<publicDomain>` is served by the route `/<name>`. */
  readonly publicDomain?: string;
  /** HTTPS, with the certificates berth serves through serveCertificate(); plain HTTP then redirects to it. */
  readonly tls?: NginxTlsInput;
  /** Count requests and latency per route (default on). */
  readonly routeMetrics?: boolean;
}

const ADMIN_TIMEOUT_MS = 2_000;
const READY_PROBE_TIMEOUT_MS = 1_000;
const RELOAD_TIMEOUT_MS = 5_000;
/**
 * A worker looks for a new table at most once per tick of its millisecond clock. Past two
 * ticks after the link moved, every request that arrives is balanced with the new table.
 */
const TABLE_SETTLE_MS = 2;

/**
 * The gateway data plane: nginx with berth's routing module, which reads the route table
 * from a file under the data dir (ADR 005). nginx outlives berth; start() adopts a running
 * one through its pid file, reloads it only if it runs another config, and the supervisor
 * restarts it when it dies. A restarted nginx reads the last table from the file itself.
 */
export class NginxGateway implements Gateway, CertificateServing {
  private readonly paths: NginxPaths;
  private readonly admin: NginxAdminClient;
  private readonly configFile: NginxConfigFile;
  private readonly supervisor: SupervisedProcess;
  private readonly table: RouteTableFile;
  private readonly files = new WorkerFiles();
  private readonly certificates: ServedCertificates;
  private readonly challenges: AcmeChallengeFiles;
  private readonly asRoot: boolean;
  private prepared: Promise<void> | null = null;
  /** Resolved by start() when berth runs as root. */
  private worker: WorkerUser | null = null;
  private readonly halt = new AbortController();
  /** The text to write next; null until setRoutes, so an adopted nginx keeps its table meanwhile. */
  private latest: string | null = null;
  private writes: Promise<void> = Promise.resolve();

  constructor(private readonly options: NginxGatewayOptions) {
    this.asRoot = process.geteuid?.() === 0;
    this.paths = nginxPaths(options.dataDir, options.workerDir ?? (this.asRoot ? defaultWorkerDir(options.dataDir) : options.dataDir));
    this.admin = new NginxAdminClient(options.adminPort);
    this.table = new RouteTableFile(this.paths.routesLink, this.files);
    this.certificates = new ServedCertificates(this.paths.certificateDir, this.files);
    this.challenges = new AcmeChallengeFiles(this.paths.challengeDir, this.files);
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
  }

  /**
   * Writes nginx.conf (checked with `nginx -t`; a rejected config leaves the previous file
   * and a running nginx untouched), then adopts or spawns nginx and makes it run that config.
   */
  async start(): Promise<void> {
    await this.prepare();
    const config = this.render();
    await this.checkModule();
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

  /**
   * Resolves the workers' user and makes the dirs nginx and its workers use; start() does it
   * too. Certificates served before start() are there for nginx's first handshake.
   */
  prepare(): Promise<void> {
    this.prepared ??= (async () => {
      if (this.asRoot) this.worker = await lookupWorkerUser(this.options.workerUser ? [this.options.workerUser] : DEFAULT_WORKER_USERS);
      for (const dir of [this.options.dataDir, dirname(this.paths.errorLog)]) await mkdir(dir, { recursive: true, mode: 0o700 });
      await this.prepareWorkerDirs();
    })();
    return this.prepared;
  }

  async serveCertificate(name: string, pem: string): Promise<void> {
    await this.prepare();
    await this.certificates.serve(name, pem);
  }

  async withdrawCertificate(name: string): Promise<void> {
    await this.prepare();
    await this.certificates.withdraw(name);
  }

  async putChallenge(token: string, keyAuthorization: string): Promise<void> {
    await this.prepare();
    await this.challenges.put(token, keyAuthorization);
  }

  removeChallenge(token: string): Promise<void> {
    return this.challenges.remove(token);
  }

  async setRoutes(routes: readonly Route[]): Promise<readonly RouteRejection[]> {
    if (this.halt.signal.aborted) throw new GatewayUnavailableError('the gateway was stopped or detached');
    const table = renderRouteTable(routes);
    this.latest = table.text;
    await this.enqueueWrite();
    await sleep(TABLE_SETTLE_MS);
    return table.rejected;
  }

  /** Stops supervising; nginx keeps serving the current table for the next berth to adopt. */
  async detach(): Promise<void> {
    this.halt.abort();
    await this.supervisor.detach();
    await this.writes;
  }

  /** Terminates nginx, and removes the worker dir when it is not the data dir. */
  async stop(): Promise<void> {
    this.halt.abort();
    await this.supervisor.stop();
    await this.writes;
    if (this.paths.workerDir !== this.options.dataDir) await rm(this.paths.workerDir, { recursive: true, force: true });
  }

  /** What nginx counted of each route since it started. */
  async routeMetrics(): Promise<RouteMetricsReport> {
    return parseRouteMetrics(await this.admin.routeMetrics(ADMIN_TIMEOUT_MS));
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
      moduleFile: this.options.moduleFile ?? GATEWAY_MODULE_FILE,
      routeMetrics: this.options.routeMetrics ?? true,
      ...(this.worker ? { worker: { user: this.worker.name, group: this.worker.group } } : {}),
      ...(this.options.publicDomain === undefined ? {} : { publicDomain: this.options.publicDomain }),
      ...(this.options.tls === undefined ? {} : { tls: this.options.tls }),
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

  /** Writes run one at a time, each writing the latest table, so an older table never lands last. */
  private enqueueWrite(): Promise<void> {
    const write = this.writes.then(() => this.writeLatest());
    // The chain only orders writes; each failure is delivered to the caller that asked for it.
    this.writes = write.then(
      () => undefined,
      () => undefined,
    );
    return write;
  }

  private async writeLatest(): Promise<void> {
    const text = this.latest;
    if (text === null) return;
    try {
      await this.table.write(text);
    } catch (error) {
      throw new GatewayTableWriteError(`cannot write the route table under ${this.paths.routesLink}: ${String(error)}`, {
        cause: error,
      });
    }
  }

  private async checkModule(): Promise<void> {
    const file = this.options.moduleFile ?? GATEWAY_MODULE_FILE;
    try {
      await access(file);
    } catch (error) {
      throw new GatewayUnavailableError(`berth's nginx module is missing at ${file}; build it with \`npm run build\``, {
        cause: error,
      });
    }
  }

  /**
   * The workers' user may pass through the worker dir and its parts (mode 0710, berth's group
   * set to theirs) and read the route table files (0640), and nothing else of berth's.
   */
  private async prepareWorkerDirs(): Promise<void> {
    const dirs = [
      this.paths.workerDir,
      this.paths.tempDir,
      dirname(this.paths.notFoundSocket),
      dirname(this.paths.routesLink),
      this.paths.certificateDir,
      this.paths.challengeDir,
    ];
    if (this.worker === null) {
      for (const dir of dirs) await mkdir(dir, { recursive: true, mode: 0o700 });
      return;
    }
    // /run/berth: others may pass through to their own gateway dir, never list it.
    await mkdir(dirname(this.paths.workerDir), { recursive: true, mode: 0o711 });
    for (const dir of dirs) {
      await mkdir(dir, { recursive: true, mode: 0o710 });
      await chown(dir, 0, this.worker.gid);
      await chmod(dir, 0o710);
    }
    this.files.shareWith(this.worker.gid);
  }

  private async removeSockets(): Promise<void> {
    await rm(this.paths.notFoundSocket, { force: true });
    await rm(this.paths.unavailableSocket, { force: true });
    await rm(this.paths.badRequestSocket, { force: true });
  }
}

/** /run/berth/gateway-<hash>: one per data dir, on a path every user can pass through. */
export function defaultWorkerDir(dataDir: string): string {
  return join('/run/berth', `gateway-${createHash('sha256').update(resolve(dataDir)).digest('hex').slice(0, 12)}`);
}
