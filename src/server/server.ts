import { realpath } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../api/app.js';
import { AuthFailureLimiter } from '../api/auth-limiter.js';
import { Authenticator } from '../api/auth.js';
import { UiSessions } from '../api/ui-sessions.js';
import type { Certificates } from '../domain/certificates.js';
import { ConfigError, FeatureUnavailableError, InternalError } from '../domain/errors.js';
import { contextRoot } from '../domain/names.js';
import { systemClock, type Clock } from '../domain/model.js';
import type { Gateway } from '../gateway/gateway.js';
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
import { NodeNames } from '../reconciler/node-names.js';
import { NodeDirectory } from '../reconciler/node-directory.js';
import { NodeDrainer } from '../reconciler/node-drainer.js';
import { RegistryImageSource } from '../registry/registry-image-source.js';
import { RegistryService } from '../registry/registry-service.js';
import { registryTokenRoutes } from '../registry/routes.js';
import type { TaskExec } from '../runtime/task-exec.js';
import type { TaskRuntime } from '../runtime/task-runtime.js';
import Docker from 'dockerode';
import type { Cluster } from '../runtime/cluster.js';
import { EngineCluster } from '../runtime/docker/engine-cluster.js';
import { openDatabase } from '../store/database.js';
import { AuditTrail } from '../store/audit.js';
import { instanceId } from '../store/meta.js';
import { Store } from '../store/store.js';
import { connectUrl } from '../net/listen-address.js';
import { AcmeCertificates } from '../tls/acme-certificates.js';
import { AcmeIssuer, configureAcmeHttp, createAccountKey } from '../tls/acme-issuer.js';
import { CertificateStore } from '../tls/certificate-store.js';
import { NO_CERTIFICATES } from '../tls/certificates.js';
import { CertifyingGateway } from '../tls/certifying-gateway.js';
import { UserCertificate } from '../tls/user-certificate.js';
import { RuntimeDatabaseAccess } from '../databases/database-access.js';
import { RestoreStreams } from '../reconciler/restore-streams.js';
import { DumpFiles } from '../databases/dump-files.js';
import { PostgresDriver } from '../databases/postgres-driver.js';
import { RedisDriver } from '../databases/redis-driver.js';
import { openKeyring } from '../secrets/open-secrets.js';
import { SecretStore, secretOwner } from '../secrets/secret-store.js';
import { httpsPort, type ServerConfig, type TlsConfig } from './config.js';
import { Observability } from './observability.js';
import { claimDataDir, loadAdminToken, secureDataDir, type AdminToken } from './data-dir.js';
import { chooseRuntime } from './runtime-choice.js';

/** What tests may replace (the engine and the clock) or watch. Everything else is real. */
export interface ServerParts {
  readonly runtime?: TaskRuntime;
  /** The nodes' side of `runtime`; default: the engine at --docker-host as one node. */
  readonly cluster?: Cluster;
  /** Commands in the runtime's tasks; without it (a replaced runtime) exec and databases' dumps are refused. */
  readonly exec?: TaskExec;
  readonly clock?: Clock;
  /** Told how long each reconcile pass took (the bench times passes with it). */
  readonly onPass?: (durationMs: number) => void;
  readonly logLevel?: string;
  /** How often tasks are sampled for the metrics (default 15 s; tests make it short). */
  readonly sampleIntervalMs?: number;
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
    private readonly certificateManager: AcmeCertificates | null,
    private readonly observability: Observability,
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
    // Before anything reads a secret: a missing or wrong key file stops the start here.
    const secrets = new SecretStore(store.secrets, await openKeyring(dataDir, store.secrets, new Date(clock.now())));
    const unsealed = store.stacks.sealPlainSecrets((stackId, name, value) => secrets.put(secretOwner.stack(stackId), name, value));
    const admin = await loadAdminToken(dataDir, config.adminToken);
    // The runtime exists before the logger; its warnings reach the log once that exists.
    let warn = (error: Error): void => process.emitWarning(error);
    const chosen = parts.runtime
      ? { runtime: parts.runtime, cluster: parts.cluster ?? new EngineCluster(new Docker({ socketPath: config.dockerSocket })), exec: parts.exec ?? null, stats: null }
      : await chooseRuntime(config, (error) => warn(error));
    const { runtime, cluster, exec, stats: taskStats } = chosen;
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
    const nodeNames = new NodeNames(runtime, clock);
    const databases = {
      postgres: new PostgresDriver(exec ?? NO_EXEC),
      redis: new RedisDriver(runtime, exec ?? NO_EXEC),
      backups: new DumpFiles(join(dataDir, 'backups')),
      uploads: new DumpFiles(join(dataDir, 'restores')),
      // The reconciler exists later; uploads loaded while they arrive wake it when their load ends.
      streams: new RestoreStreams(() => reconciler?.kick()),
    };

    // The gateway exists after the API; until then no route was counted.
    let gatewayReady: NginxGateway | null = null;
    // The logger exists once the API does; what is logged before goes to the process's warnings.
    let log: Logger = { info: () => undefined, warn: (m) => process.emitWarning(m), error: (m) => process.emitWarning(m) };
    const lateLogger: Logger = { info: (m) => log.info(m), warn: (m) => log.warn(m), error: (m) => log.error(m) };
    const drainer = new NodeDrainer(cluster, runtime, clock, lateLogger);
    const nodes = new NodeDirectory(cluster, runtime, () => {
      drainer.soon();
      reconciler?.kick();
    });
    const observability = await Observability.start({
      store,
      certificates: () => certificates,
      routeMetrics: async () => (gatewayReady ? gatewayReady.routeMetrics() : null),
      sampler: taskStats && {
        tasks: () => containers.matching({ [LABEL.instance]: instance }),
        stats: taskStats,
        labels: { project: LABEL.project, service: LABEL.service },
      },
      listen: config.metricsListen,
      logger: lateLogger,
      ...(parts.sampleIntervalMs === undefined ? {} : { sampleIntervalMs: parts.sampleIntervalMs }),
    });
    const sessions = new UiSessions(clock);
    // The API and the reconciler refer to each other; the closures bind once both exist.
    let reconciler: Reconciler | null = null;
    // The API lists and renews certificates; they are made once the gateway exists.
    let certificates: Certificates = NO_CERTIFICATES;
    const api = await buildApp(
      {
        store,
        observer: new RuntimeTaskObserver(runtime, containers, store, health, (id) => reconciler?.isStopping(id) ?? false, nodeNames),
        auth: new Authenticator(admin.token, store.projects, new AuthFailureLimiter(clock), sessions),
        sessions,
        uiDir: join(import.meta.dirname, '../../dist/ui'),
        publicUrl: config.publicUrl,
        desiredStateChanged: () => reconciler?.kick(),
        audit: new AuditTrail(store.db, clock, join(dataDir, 'audit.log'), (error) => api.log.error(`audit log: ${error.message}`)),
        ownRegistry: registry.names(),
        jobs: new RuntimeJobObserver(runtime, containers, store),
        certificates: {
          get mode() {
            return certificates.mode;
          },
          list: () => certificates.list(),
          renew: (host) => certificates.renew(host),
        },
        capacityMiB: async () => {
          if (!reconciler) throw new InternalError('the reconciler is not running yet');
          return reconciler.capacityMiB();
        },
        nodes,
        dockerCredentials: {
          credentialsFor: async (service) => registry.credentialsFor(service.project, service.name, service.id),
        },
        secrets,
        databases: new RuntimeDatabaseAccess(containers, { postgres: databases.postgres, redis: databases.redis }, secrets, databases.uploads, instance, {
          store,
          fresh: databases.postgres,
          streams: databases.streams,
          faults: faultPointsFromEnv(process.env),
        }),
        reservedMiB: async () => {
          if (!reconciler) throw new InternalError('the reconciler is not running yet');
          return reconciler.reservedMiB();
        },
        colours: {
          switchLive: async (service, colour, options) => {
            if (!reconciler) throw new InternalError('the reconciler is not running yet');
            return reconciler.colours.switchLive(service, colour, options);
          },
        },
        hostPolicy: { hostPorts: config.hostPorts, bindMountDirs: await realDirs(config.allowBindMounts) },
        realPath,
        metrics: observability,
        exec: exec && {
          exec: (project, serviceId, task, options) =>
            exec.exec({ [LABEL.instance]: instance, [LABEL.project]: project, [LABEL.serviceId]: String(serviceId), ...(task === null ? {} : { [LABEL.task]: task }) }, options),
        },
      },
      {
        logger: { level: parts.logLevel ?? 'info' },
        plugins: [async (app) => app.register(registryTokenRoutes, registry.tokenRoutes)],
      },
    );
    const logger = pinoLogger(api);
    for (const fix of secured) logger.warn(`data dir: ${fix}`);
    if (unsealed > 0) logger.info(`sealed ${unsealed} stack secret(s) that an earlier version kept in plain text`);
    warn = (error) => logger.warn(`runtime: ${error.message}`);
    log = logger;
    const gateway = new NginxGateway({
      dataDir: join(dataDir, 'nginx'),
      listenHost: config.gatewayListen.host,
      listenPort: config.gatewayListen.port,
      adminPort: config.gatewayAdminPort,
      ...(config.gatewayUser ? { workerUser: config.gatewayUser } : {}),
      ...(config.publicDomain === null ? {} : { publicDomain: config.publicDomain }),
      ...(config.tls.mode === 'off'
        ? {}
        : {
            tls: {
              listenHost: config.tls.listen.host,
              listenPort: config.tls.listen.port,
              redirectPort: httpsPort(config.publicUrl),
              acmeChallenges: config.tls.mode === 'acme',
            },
          }),
    });
    gatewayReady = gateway;
    // Served before nginx starts, so its first handshake has the last good certificate.
    await gateway.prepare();
    const tls = await startCertificates(config, dataDir, gateway, clock, logger, (host, message) => {
      const root = `/${host.slice(0, host.indexOf('.'))}`;
      const service = store.services.listAll().find((s) => contextRoot(s.project, s.name) === root);
      if (service) store.events.add(service.id, message);
    });
    certificates = tls.certificates;
    reconciler = new Reconciler(
      {
        store,
        runtime,
        containers,
        tracker,
        gateway: tls.gateway,
        health,
        images: new RegistryImageSource(registry),
        clock,
        logger,
        onServiceRemoved: (service) => registry.deleteRepository(service.project, service.name, service.id),
        nodeNames,
        drainer,
        faults: faultPointsFromEnv(process.env),
        secrets,
        databases,
        onAdmissionRefused: () => observability.admissionRefused('service'),
        onPass: (durationMs) => {
          observability.passCompleted(durationMs);
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
    tls.manager?.start();
    logger.info(`berth API on ${address}; gateway ${config.publicUrl}; registry ${registry.address}; instance ${instance}`);
    return new BerthServer(config, api, reconciler, store, instance, admin, address, gateway, registry, health, tls.manager, observability);
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
    await this.certificateManager?.stop();
    await this.observability.close();
  }
}

interface StartedCertificates {
  readonly certificates: Certificates;
  /** The gateway the reconciler routes through: with ACME and --public-domain, it tells the manager the service hosts. */
  readonly gateway: Gateway;
  readonly manager: AcmeCertificates | null;
}

/** The certificates of the TLS mode, served by the gateway; the manager's loop starts with the reconciler. */
async function startCertificates(
  config: ServerConfig,
  dataDir: string,
  gateway: NginxGateway,
  clock: Clock,
  logger: Logger,
  onFailure: (host: string, message: string) => void,
): Promise<StartedCertificates> {
  const tls: TlsConfig = config.tls;
  if (tls.mode === 'off') return { certificates: NO_CERTIFICATES, gateway, manager: null };
  if (tls.mode === 'files') {
    const certificate = await UserCertificate.load(tls.certFile, tls.keyFile, clock.now());
    const publicHost = new URL(config.publicUrl).hostname;
    if (!certificate.covers(publicHost)) logger.warn(`--tls-cert ${tls.certFile} is not valid for ${publicHost}, the host of --public-url`);
    await certificate.serveOn(gateway);
    return { certificates: certificate, gateway, manager: null };
  }
  await configureAcmeHttp({ caFile: tls.caFile });
  const store = new CertificateStore(join(dataDir, 'tls'));
  await store.prepare();
  const accountKey = await store.accountKey(createAccountKey);
  const manager = new AcmeCertificates({
    store,
    issuer: new AcmeIssuer({ directoryUrl: tls.directoryUrl, email: tls.email, accountKey, challenges: gateway }),
    serving: gateway,
    publicHost: new URL(config.publicUrl).hostname,
    clock,
    logger,
    onFailure,
    faults: faultPointsFromEnv(process.env),
  });
  await manager.restore();
  if (config.publicDomain === null) {
    // Started before without --public-domain, or with it: its service hosts are not routed now.
    await manager.holdServiceHosts(new Set());
    return { certificates: manager, gateway, manager };
  }
  return { certificates: manager, gateway: new CertifyingGateway(gateway, manager, config.publicDomain, logger), manager };
}

/** A runtime that cannot run commands in tasks: what needs one says so. */
const NO_EXEC: TaskExec = {
  exec: async () => {
    throw new FeatureUnavailableError('This server cannot run commands in tasks');
  },
  run: async () => {
    throw new FeatureUnavailableError('This server cannot run commands in tasks');
  },
};

/** A pass this long holds every service back (a slow engine, or hundreds of tasks started at once); only the log shows it. */
const SLOW_PASS_MS = 10_000;

function pinoLogger(app: FastifyInstance): Logger {
  return {
    info: (m) => app.log.info(m),
    warn: (m) => app.log.warn(m),
    error: (m) => app.log.error(m),
  };
}

/** The real path of a host path, or null when nothing is there. */
async function realPath(path: string): Promise<string | null> {
  try {
    return await realpath(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'ENOTDIR') return null;
    throw error;
  }
}

/** Allowed bind-mount directories by their real paths, so that a mount's real path is compared with like. */
async function realDirs(dirs: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const dir of dirs) {
    const real = await realPath(dir);
    if (real === null) throw new ConfigError(`--allow-bind-mount ${dir}: no such directory`);
    out.push(real);
  }
  return out;
}
