import type { Certificates } from '../domain/certificates.js';
import type { ColourSwitch } from '../domain/colours.js';
import type { HistoryPoint } from '../metrics/history.js';
import type { ExecOptions, ExecSession } from '../runtime/task-exec.js';
import type { HostPolicy } from '../domain/compose/to-definition.js';
import type { OwnRegistry } from '../domain/image-reference.js';
import type { Service } from '../domain/model.js';
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
  admissionRefused(kind: 'job' | 'stack'): void;
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
}
