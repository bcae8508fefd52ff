import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../api/app.js';
import { AuthFailureLimiter } from '../api/auth-limiter.js';
import { Authenticator } from '../api/auth.js';
import type { DockerCredentialsProvider } from '../api/ports.js';
import { systemClock, type Clock } from '../domain/model.js';
import type { Gateway } from '../gateway/gateway.js';
import { RunningIsHealthy, type HealthMonitor } from '../reconciler/health-monitor.js';
import type { ImageSource } from '../reconciler/image-source.js';
import { DEFAULT_RECONCILER_OPTIONS, Reconciler, type Logger } from '../reconciler/reconciler.js';
import { RuntimeTaskObserver } from '../reconciler/task-observer.js';
import type { ContainerRuntime } from '../runtime/container-runtime.js';
import { DockerRuntime } from '../runtime/docker/docker-runtime.js';
import { openDatabase } from '../store/database.js';
import { instanceId } from '../store/meta.js';
import { Store } from '../store/store.js';
import type { ServerConfig } from './config.js';
import { claimDataDir, loadAdminToken, type AdminToken } from './data-dir.js';

/** The pieces a server runs with; tests may replace the engine-facing ones. */
export interface ServerParts {
  readonly runtime?: ContainerRuntime;
  readonly gateway?: Gateway;
  readonly health?: HealthMonitor;
  readonly images?: ImageSource;
  readonly clock?: Clock;
  readonly logLevel?: string;
  readonly dockerCredentials?: DockerCredentialsProvider | null;
}

/** Child processes (nginx, the registry) are adopted, not restarted, by the next server. */
export interface ManagedChild {
  detach(): Promise<void>;
}

/** Runs images by reference; `container-tag` needs the registry, which the registry wiring supplies. */
const directImages: ImageSource = {
  async resolve(project, service, definition) {
    return {
      reference: definition.image ?? `${project}/${service}:${definition.containerTag ?? 'latest'}`,
      auth: null,
      alwaysPull: definition.image === null,
    };
  },
};

/** The composition root: the only place concrete adapters are chosen and wired. */
export class BerthServer {
  private constructor(
    readonly config: ServerConfig,
    readonly app: FastifyInstance,
    readonly reconciler: Reconciler,
    readonly store: Store,
    readonly instance: string,
    readonly admin: AdminToken,
    readonly apiUrl: string,
    private readonly children: readonly ManagedChild[],
    private readonly health: HealthMonitor,
  ) {}

  static async start(config: ServerConfig, parts: ServerParts = {}): Promise<BerthServer> {
    const dataDir = resolve(config.dataDir);
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    claimDataDir(dataDir);
    const clock = parts.clock ?? systemClock;
    const store = new Store(openDatabase(join(dataDir, 'berth.db')), clock);
    const instance = instanceId(store.db);
    const admin = loadAdminToken(dataDir, config.adminToken);
    const runtime = parts.runtime ?? new DockerRuntime();
    await runtime.ping();

    const health = parts.health ?? new RunningIsHealthy();
    // The API and the reconciler refer to each other; the closures below bind once both exist.
    let reconciler: Reconciler | null = null;
    const api = await buildApp(
      {
        store,
        observer: new RuntimeTaskObserver(runtime, store, health, instance, (id) => reconciler?.isStopping(id) ?? false),
        auth: new Authenticator(admin.token, store.projects, new AuthFailureLimiter(clock)),
        publicUrl: config.publicUrl,
        desiredStateChanged: () => reconciler?.kick(),
        dockerCredentials: parts.dockerCredentials ?? null,
      },
      { logger: { level: parts.logLevel ?? 'info' } },
    );
    reconciler = new Reconciler(
      {
        store,
        runtime,
        gateway: parts.gateway ?? { setRoutes: async () => {} },
        health,
        images: parts.images ?? directImages,
        clock,
        logger: pinoLogger(api),
      },
      {
        ...DEFAULT_RECONCILER_OPTIONS,
        instance,
        capacityMiB: config.memoryCapacityMiB,
        healthTimeoutMs: config.healthTimeoutSeconds * 1000,
        drainMs: config.drainSeconds * 1000,
        stopGraceMs: config.stopGraceSeconds * 1000,
      },
    );
    reconciler.start();
    const address = await api.listen({ host: config.apiListen.host, port: config.apiListen.port });
    api.log.info(`berth API on ${address}; instance ${instance}; public URL ${config.publicUrl}`);
    return new BerthServer(config, api, reconciler, store, instance, admin, address, [], health);
  }

  /** Stops the control plane. Containers, nginx and the registry keep running for the next start to adopt. */
  async stop(): Promise<void> {
    await this.app.close();
    await this.reconciler.stop();
    for (const child of this.children) await child.detach();
    this.health.stop();
    this.store.db.close();
  }
}

function pinoLogger(app: FastifyInstance): Logger {
  return {
    info: (m) => app.log.info(m),
    warn: (m) => app.log.warn(m),
    error: (m) => app.log.error(m),
  };
}
