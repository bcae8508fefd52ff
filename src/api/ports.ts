import type { Readable, Writable } from 'node:stream';
import type { Certificates } from '../domain/certificates.js';
import type { ColourSwitch } from '../domain/colours.js';
import type { Database } from '../domain/database.js';
import type { DumpFormat } from '../domain/database-engines.js';
import type { DatabaseRestore } from '../domain/restore.js';
import type { HistoryPoint } from '../metrics/history.js';
import type { SecretStore } from '../secrets/secret-store.js';
import type { ExecOptions, ExecSession } from '../runtime/task-exec.js';
import type { HostPolicy } from '../domain/compose/to-definition.js';
import type { OwnRegistry } from '../domain/image-reference.js';
import type { Service } from '../domain/model.js';
import type { NodeView } from '../domain/nodes.js';
import type { JobLogObserver, TaskObserver } from '../domain/observed.js';
import type { AuditTrail } from '../store/audit.js';
import type { Store } from '../store/store.js';
import type { Authenticator } from './auth.js';
import type { UiSessions } from './ui-sessions.js';
import type { DockerCredentialsDocT } from './schemas.js';

/** Issues `docker login` credentials scoped to one service's repository. */
export interface DockerCredentialsProvider {
  credentialsFor(service: Service): Promise<DockerCredentialsDocT>;
}

/** A database's serving task as the engine has it. */
export interface ObservedDatabase {
  readonly task: string | null;
  /** created, running, exited, removing, or none. */
  readonly state: string;
  readonly address: string | null;
  /** Whether it accepts connections now (probed when asked); null while it is not running. */
  readonly ready: boolean | null;
}

/** What the API reads of databases' data: dumps streamed out, whether one holds data, uploads kept for a restore. */
export interface DatabaseAccess {
  observe(db: Database): Promise<ObservedDatabase>;
  /** Streams a consistent dump into `out`, ending it when complete. */
  dump(db: Database, format: DumpFormat, out: Writable, signal: AbortSignal): Promise<void>;
  hasData(db: Database): Promise<boolean>;
  /**
   * Keeps an upload (its head already checked) as a file a restore reads; `begin` records the
   * restore: with the file's size once it is whole, or with null before the first byte when it
   * loads while it arrives (PostgreSQL with a running task). Answers the restore once the upload
   * is whole on disk (`expected`: the size announced, if any); an upload that breaks throws.
   */
  receive(db: Database, body: Readable, format: DumpFormat, expected: number | null, begin: (file: string, size: number | null) => DatabaseRestore): Promise<DatabaseRestore>;
}

/** Commands in a service's running task (`compose exec`). */
export interface ServiceExec {
  /** In the named task of the service, or any running one; null when none runs. */
  exec(project: string, serviceId: number, task: string | null, options: ExecOptions): Promise<ExecSession | null>;
}

/** Metrics as the API serves them: Prometheus's text, and each service's charts. */
export interface ApiMetrics {
  text(): Promise<{ contentType: string; body: string }>;
  history(key: string, since: number): readonly HistoryPoint[];
  readonly intervalSeconds: number;
  admissionRefused(kind: 'job' | 'stack' | 'database'): void;
}

export interface ApiDeps {
  readonly store: Store;
  readonly observer: TaskObserver;
  readonly auth: Authenticator;
  readonly publicUrl: string;
  /** Tells the reconciler desired state changed, so it acts now rather than at its next period. */
  readonly desiredStateChanged: () => void;
  readonly dockerCredentials: DockerCredentialsProvider | null;
  readonly audit: AuditTrail;
  /** berth's registry under every spelling of its address; null when the server runs without one. */
  readonly ownRegistry: OwnRegistry | null;
  /** Jobs' output, from their tasks and from the store. */
  readonly jobs: JobLogObserver;
  /** The memory berth may reserve in all: a job whose reservation is larger can never start. */
  readonly capacityMiB: () => Promise<number>;
  /** The gateway's TLS certificates. */
  readonly certificates: Certificates;
  /** Secrets sealed at rest: databases' passwords, services' `secrets`. */
  readonly secrets: SecretStore;
  readonly databases: DatabaseAccess;
  /** Memory reserved now by every task on the runtime: a database that does not fit beside them is refused. */
  readonly reservedMiB: () => Promise<number>;
  /** Moves a coloured service's live traffic (the reconciler writes the gateway's table). */
  readonly colours: ColourSwitch;
  /** What stacks may reach on the server's host: host ports and bind-mounted directories. */
  readonly hostPolicy: HostPolicy;
  /** The real path of a host path (symlinks followed), or null when nothing is there. */
  readonly realPath: (path: string) => Promise<string | null>;
  /** null when the runtime cannot run commands in tasks. */
  readonly exec: ServiceExec | null;
  readonly metrics: ApiMetrics;
  /** The dashboard's sign-ins. */
  readonly sessions: UiSessions;
  /** The built dashboard (dist/ui); null or missing: /ui says it is not built. */
  readonly uiDir: string | null;
  /** The cluster's nodes; absent, node routes answer that they need a Swarm. */
  readonly nodes?: NodesPort;
}

/** The nodes tasks run on, as the API lists and changes them (admin). */
export interface NodesPort {
  readonly orchestrator: 'swarm' | 'engine';
  list(): Promise<NodeView[]>;
  get(name: string): Promise<NodeView>;
  joinCommand(role: 'worker' | 'manager'): Promise<string>;
  drain(name: string): Promise<NodeView>;
  activate(name: string): Promise<NodeView>;
  label(name: string, changes: Readonly<Record<string, string | null>>): Promise<NodeView>;
  remove(name: string, force: boolean): Promise<NodeView>;
}
