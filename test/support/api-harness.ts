import type { ApiDeps, DatabaseAccess } from '../../src/api/ports.js';
import { DatabaseBusyError } from '../../src/domain/errors.js';
import type { SecretStore } from '../../src/secrets/secret-store.js';
import { testSecretStore } from './test-secrets.js';
import type { HostPolicy } from '../../src/domain/compose/to-definition.js';
import { UiSessions } from '../../src/api/ui-sessions.js';
import { Observability } from '../../src/server/observability.js';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/api/app.js';
import { AuthFailureLimiter } from '../../src/api/auth-limiter.js';
import { Authenticator } from '../../src/api/auth.js';
import type { DockerCredentialsProvider, NodesPort } from '../../src/api/ports.js';
import type { OwnRegistry } from '../../src/domain/image-reference.js';
import type { JobLogObserver, JobLogStream, ObservedTask, TaskLogStream, TaskObserver } from '../../src/domain/observed.js';
import { openDatabase } from '../../src/store/database.js';
import { AuditTrail } from '../../src/store/audit.js';
import { Store } from '../../src/store/store.js';
import type { Certificates } from '../../src/domain/certificates.js';
import type { ColourSwitch } from '../../src/domain/colours.js';
import type { Service } from '../../src/domain/model.js';
import { NO_CERTIFICATES } from '../../src/tls/certificates.js';

export const ADMIN = 'admin-secret-token';
/** The memory the harness says berth may reserve in all. */
export const CAPACITY_MIB = 4096;
export const PUBLIC_URL = 'http://gw.example:8080';

/** An observer that shows whatever the test sets. */
export class StaticObserver implements TaskObserver {
  taskList: ObservedTask[] = [];
  streams: TaskLogStream[] = [];
  async tasks(): Promise<ObservedTask[]> {
    return this.taskList;
  }
  async logs(_serviceId: number, tail: number, streams: number): Promise<TaskLogStream[]> {
    return this.streams.slice(0, streams).map((s) => ({ ...s, lines: s.lines.slice(-tail) }));
  }
  async followLogs(
    _serviceId: number,
    options: { tail: number; signal: AbortSignal; onLine: (task: string, line: { time: Date; message: string }) => void },
  ): Promise<void> {
    for (const s of this.streams) for (const line of s.lines.slice(-options.tail)) options.onLine(s.taskName, line);
  }
}

/** A job observer that shows whatever the test sets, and ends a follow at once. */
export class StaticJobObserver implements JobLogObserver {
  streams: JobLogStream[] = [];
  async logs(_jobId: number, tail: number): Promise<JobLogStream[]> {
    return this.streams.map((s) => ({ ...s, lines: s.lines.slice(-tail) }));
  }
  async follow(_jobId: number, options: { tail: number; onLine: (task: string, line: { time: Date; message: string }) => void }): Promise<void> {
    for (const s of this.streams) for (const line of s.lines.slice(-options.tail)) options.onLine(s.taskName, line);
  }
}

/** Stands for the reconciler's switch: records each one and commits it, or fails as told. */
export class RecordingSwitch implements ColourSwitch {
  readonly switches: { service: string; colour: string; force: boolean }[] = [];
  failWith: Error | null = null;
  async switchLive(service: Service, colour: string, options: { force: boolean; commit: () => void }): Promise<void> {
    if (this.failWith) throw this.failWith;
    this.switches.push({ service: service.name, colour, force: options.force });
    options.commit();
  }
}

export interface Harness {
  app: FastifyInstance;
  store: Store;
  observer: StaticObserver;
  jobs: StaticJobObserver;
  colours: RecordingSwitch;
  kicks: () => number;
  /** What the API seals secrets with. */
  secrets: SecretStore;
  close(): Promise<void>;
}

/** Stands for berth's registry at registry.example:5000 and localhost:5000. */
export const TEST_REGISTRY: OwnRegistry = { names: (domain) => domain === 'registry.example:5000' || domain === 'localhost:5000' };

export async function apiHarness(
  options: { credentials?: DockerCredentialsProvider; authFailures?: number; certificates?: Certificates; hostPolicy?: HostPolicy; capacityMiB?: number; nodes?: NodesPort; databases?: Partial<DatabaseAccess> } = {},
): Promise<Harness> {
  const clock = { now: () => Date.now() };
  const store = new Store(openDatabase(':memory:'), clock);
  const observer = new StaticObserver();
  const sessions = new UiSessions(clock);
  const jobs = new StaticJobObserver();
  const colours = new RecordingSwitch();
  let kicks = 0;
  const databases = noDatabases(store, options.databases);
  const app = await buildApp({
    store,
    observer,
    auth: new Authenticator(ADMIN, store.projects, new AuthFailureLimiter(clock, options.authFailures ?? 100_000), sessions),
    publicUrl: PUBLIC_URL,
    desiredStateChanged: () => {
      kicks++;
    },
    dockerCredentials: options.credentials ?? null,
    ownRegistry: TEST_REGISTRY,
    hostPolicy: options.hostPolicy ?? { hostPorts: null, bindMountDirs: [] },
    realPath: async (path) => path,
    exec: null,
    sessions,
    uiDir: null,
    metrics: await Observability.start({ store, certificates: () => options.certificates ?? NO_CERTIFICATES, routeMetrics: async () => null, sampler: null, listen: null, logger: SILENT }),
    jobs,
    capacityMiB: async () => options.capacityMiB ?? CAPACITY_MIB,
    colours,
    certificates: options.certificates ?? NO_CERTIFICATES,
    ...(options.nodes ? { nodes: options.nodes } : {}),
    ...databases,
    audit: new AuditTrail(store.db, clock, null, (error) => {
      throw error;
    }),
  });
  return {
    app,
    store,
    observer,
    jobs,
    colours,
    kicks: () => kicks,
    secrets: databases.secrets,
    close: async () => {
      await app.close();
      store.db.close();
    },
  };
}

export async function createProject(app: FastifyInstance, name: string): Promise<string> {
  const res = await app.inject({ method: 'POST', url: '/projects', headers: { 'x-auth-token': ADMIN }, payload: { name } });
  if (res.statusCode !== 201) throw new Error(`project create failed: ${res.statusCode} ${res.body}`);
  return (res.json() as { token: string }).token;
}

export const VALID_DEFINITION = {
  'container-tag': 'latest',
  'memory-reservation': 32,
  'memory-limit': 64,
  'container-port': 80,
  environment: [{ name: 'GREETING', value: 'hello' }],
};

/**
 * A secret store with a key made for the test, and databases whose data the test provides through
 * `access` (by default no engine is behind them: their data endpoints answer 409).
 */
export function noDatabases(store: Store, access: Partial<DatabaseAccess> = {}): Pick<ApiDeps, 'secrets' | 'databases' | 'reservedMiB'> {
  const busy = (): never => {
    throw new DatabaseBusyError('no engine in this test');
  };
  return {
    secrets: testSecretStore(store),
    databases: { observe: async () => ({ task: null, state: 'none', address: null, ready: null }), dump: busy, hasData: busy, receive: busy, ...access },
    reservedMiB: async () => 0,
  };
}

const SILENT = { info: () => undefined, warn: () => undefined, error: () => undefined };
