import { join, resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../api/app.js';
import { AuthFailureLimiter } from '../api/auth-limiter.js';
import { Authenticator } from '../api/auth.js';
import { InternalError } from '../domain/errors.js';
import { systemClock, type Clock } from '../domain/model.js';
import { NginxGateway } from '../gateway/nginx-gateway.js';
import { ProberHealthMonitor } from '../gateway/prober-health-monitor.js';
import { HealthProber } from '../gateway/prober.js';
import { ChangeTracker } from '../reconciler/change-tracker.js';
import { ContainerView, RELIST_MS } from '../reconciler/container-view.js';
import { RuntimeJobObserver } from '../reconciler/job-observer.js';
import { faultPointsFromEnv } from '../reconciler/fault-points.js';
import { LABEL } from '../reconciler/labels.js';
import { DEFAULT_RECONCILER_OPTIONS, Reconciler, type Logger } from '../reconciler/reconciler.js';
import { RuntimeTaskObserver } from '../reconciler/task-observer.js';
import { RegistryImageSource } from '../registry/registry-image-source.js';
import { RegistryService } from '../registry/registry-service.js';
import { registryTokenRoutes } from '../registry/routes.js';
import type { TaskRuntime } from '../runtime/task-runtime.js';
import { DockerRuntime } from '../runtime/docker/docker-runtime.js';
import { openDatabase } from '../store/database.js';
import { AuditTrail } from '../store/audit.js';
import { instanceId } from '../store/meta.js';
import { Store } from '../store/store.js';
import { connectUrl } from '../net/listen-address.js';
import type { ServerConfig } from './config.js';
import { claimDataDir, loadAdminToken, secureDataDir, type AdminToken } from './data-dir.js';

/** What tests may replace (the engine and the clock) or watch. Everything else is real. */
export interface ServerParts {
  readonly runtime?: TaskRuntime;
  readonly clock?: Clock;
  /** Told how long each reconcile pass took (the bench times passes with it). */
  readonly onPass?: (durationMs: number) => void;
  readonly logLevel?: string;
}

/**
 * The composition root: the only place concrete adapters are chosen and wired.
 * nginx and the registry run as their own processes and outlive the server, so
 * the gateway keeps serving while berth restarts; the next start adopts them.
 */
export class BerthServer {
  private constructor(
    readonly config: ServerConfig,
    readonly app: FastifyInstance,
    readonly reconciler: Reconciler,
    readonly store: Store,
    readonly instance: string,
    readonly admin: AdminToken,
    readonly apiUrl: string,
    readonly gateway: NginxGateway,
    readonly registry: RegistryService,
    private readonly health: ProberHealthMonitor,
  ) {}

  static async start(config: ServerConfig, parts: ServerParts = {}): Promise<BerthServer> {
    // Everything berth writes under the data dir is its user's alone (the database holds
    // environment values); children (nginx, the registry) inherit it.
    process.umask(0o077);
    const dataDir = resolve(config.dataDir);
    const secured = await secureDataDir(dataDir);
    await claimDataDir(dataDir);
    const clock = parts.clock ?? systemClock;
    const store = new Store(openDatabase(join(dataDir, 'berth.db')), clock);
    const instance = instanceId(store.db);
    const admin = await loadAdminToken(dataDir, config.adminToken);
    // The runtime exists before the logger; its warnings reach the log once that exists.
    let warn = (error: Error): void => process.emitWarning(error);
    const runtime = parts.runtime ?? new DockerRuntime({ onWarning: (error) => warn(error), networkPool: config.networkPool });
    await runtime.ping();

    const registry = await RegistryService.create({
      db: store.db,
      dataDir,
      listen: config.registryListen,
      apiBaseUrl: connectUrl(config.apiListen),
      clock,
    });
    const health = new ProberHealthMonitor(new HealthProber());

    const tracker = new ChangeTracker();
    const containers = new ContainerView(runtime, { [LABEL.instance]: instance }, clock, RELIST_MS, tracker);

    // The API and the reconciler refer to each other; the closures bind once both exist.
    let reconciler: Reconciler | null = null;
    const api = await buildApp(
      {
        store,
        observer: new RuntimeTaskObserver(runtime, containers, store, health, (id) => reconciler?.isStopping(id) ?? false),
        auth: new Authenticator(admin.token, store.projects, new AuthFailureLimiter(clock)),
        publicUrl: config.publicUrl,
        desiredStateChanged: () => reconciler?.kick(),
        audit: new AuditTrail(store.db, clock, join(dataDir, 'audit.log'), (error) => api.log.error(`audit log: ${error.message}`)),
        ownRegistry: registry.names(),
        jobs: new RuntimeJobObserver(runtime, containers, store),
        capacityMiB: async () => {
          if (!reconciler) throw new InternalError('the reconciler is not running yet');
          return reconciler.capacityMiB();
        },
        dockerCredentials: {
          credentialsFor: async (service) => registry.credentialsFor(service.project, service.name, service.id),
        },
      },
      {
        logger: { level: parts.logLevel ?? 'info' },
        plugins: [async (app) => app.register(registryTokenRoutes, registry.tokenRoutes)],
      },
    );
    const logger = pinoLogger(api);
    for (const fix of secured) logger.warn(`data dir: ${fix}`);
    warn = (error) => logger.warn(`runtime: ${error.message}`);
    const gateway = new NginxGateway({
      dataDir: join(dataDir, 'nginx'),
      listenHost: config.gatewayListen.host,
      listenPort: config.gatewayListen.port,
      adminPort: config.gatewayAdminPort,
      ...(config.gatewayUser ? { workerUser: config.gatewayUser } : {}),
    });
    reconciler = new Reconciler(
      {
        store,
        runtime,
        containers,
        tracker,
        gateway,
        health,
        images: new RegistryImageSource(registry),
        clock,
        logger,
        onServiceRemoved: (service) => registry.deleteRepository(service.project, service.name, service.id),
        faults: faultPointsFromEnv(process.env),
        onPass: (durationMs) => {
          if (durationMs >= SLOW_PASS_MS) logger.warn(`a reconcile pass took ${(durationMs / 1000).toFixed(1)} s; deployments and recovery of every service wait for passes`);
          parts.onPass?.(durationMs);
        },
      },
      {
        ...DEFAULT_RECONCILER_OPTIONS,
        instance,
        capacityMiB: config.memoryCapacityMiB,
        healthTimeoutMs: config.healthTimeoutSeconds * 1000,
        drainMs: config.drainSeconds * 1000,
        stopGraceMs: config.stopGraceSeconds * 1000,
        stackFilesRoot: join(dataDir, 'stacks'),
      },
    );
    // The token endpoint must answer before the registry asks it, so the API listens first.
    const address = await api.listen({ host: config.apiListen.host, port: config.apiListen.port });
    await Promise.all([gateway.start(), registry.start()]);
    reconciler.start();
    logger.info(`berth API on ${address}; gateway ${config.publicUrl}; registry ${registry.address}; instance ${instance}`);
    return new BerthServer(config, api, reconciler, store, instance, admin, address, gateway, registry, health);
  }

  /** Stops the control plane. Containers, nginx and the registry keep running for the next start to adopt. */
  async stop(): Promise<void> {
    await this.stopControlPlane();
    await Promise.all([this.gateway.detach(), this.registry.detach()]);
    this.store.db.close();
  }

  /** Stops everything berth started, nginx and the registry included (tests, uninstall). Containers stay. */
  async shutdownAll(): Promise<void> {
    await this.stopControlPlane();
    await Promise.all([this.gateway.stop(), this.registry.stop()]);
    this.store.db.close();
  }

  private async stopControlPlane(): Promise<void> {
    await this.app.close();
    await this.reconciler.stop();
    this.health.stop();
  }
}

/** A pass this long holds every service back (a slow engine, or hundreds of tasks started at once); only the log shows it. */
const SLOW_PASS_MS = 10_000;

function pinoLogger(app: FastifyInstance): Logger {
  return {
    info: (m) => app.log.info(m),
    warn: (m) => app.log.warn(m),
    error: (m) => app.log.error(m),
  };
}
