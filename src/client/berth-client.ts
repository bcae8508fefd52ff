import type { Static } from '@sinclair/typebox';
import type {
  AuditDoc,
  CreateProjectResponse,
  CreateServiceBody,
  DeleteServiceResponse,
  DeploymentDoc,
  DockerCredentialsDoc,
  EventsDoc,
  HealthCheckInput,
  LogsDoc,
  RevisionDoc,
  ServiceDefinitionBody,
  ServiceDoc,
  ServiceSummary,
  SwitchResponse,
  UpdateServiceResponse,
} from '../api/schemas.js';
import type { CertificateDoc, CertificatesDoc } from '../api/cert-schemas.js';
import type { CreateJobBody, CreateJobResponse, JobDoc, JobSummaryDoc } from '../api/job-schemas.js';
import type { NodeDoc, NodesDoc } from '../api/node-schemas.js';
import { BerthApiError, BerthResponseError, BerthTimeoutError, BerthUnreachableError, type ApiProblem } from './errors.js';
import { readNdjson } from './ndjson.js';
import { pause } from './pause.js';
import { DatabaseApi, type Transfer, type TransferOptions } from './databases.js';
import { StackApi } from './stacks.js';

export type HealthCheck = Static<typeof HealthCheckInput>;
export type ServiceDefinition = Static<typeof ServiceDefinitionBody>;
export type ServiceSummaryDoc = Static<typeof ServiceSummary>;
export type ServiceStatusDoc = Static<typeof ServiceDoc>;
export type Deployment = Static<typeof DeploymentDoc>;
export type Revision = Static<typeof RevisionDoc>;
export interface ServiceMetrics {
  readonly interval_seconds: number;
  readonly points: readonly ChartPoint[];
}
export interface ChartPoint {
  readonly at: string;
  readonly memory_bytes: number | null;
  readonly request_rate: number | null;
  readonly error_rate: number | null;
  readonly p95_seconds: number | null;
}
export type Events = Static<typeof EventsDoc>;
export type ServiceEvent = Events['events'][number];
export type Logs = Static<typeof LogsDoc>;
/** One line of `GET /services/:name/logs/stream`: a `view=logs` event plus the stream it belongs to. */
export type LogLine = Pick<Logs['logs'][number], 'stream_name'> & Logs['logs'][number]['log_events'][number];
export type JobInput = Static<typeof CreateJobBody>;
export type Certificates = Static<typeof CertificatesDoc>;
export type Certificate = Static<typeof CertificateDoc>;
export type Nodes = Static<typeof NodesDoc>;
export type NodeDocument = Static<typeof NodeDoc>;

/** Longer than the server's bound on one issuance (120 s). */
const RENEW_TIMEOUT_MS = 180_000;
export type JobSummary = Static<typeof JobSummaryDoc>;
export type Job = Static<typeof JobDoc>;
export type SwitchResult = Static<typeof SwitchResponse>;
/** A colour of a service (blue/green releases); absent: the service itself, or for reads its live colour. */
export type Colour = { readonly colour?: string };

export interface BerthClientOptions {
  /** The API's base URL, e.g. `http://127.0.0.1:7070`. */
  readonly url: string;
  /** A project token, or the admin token for `createProject`; none for a browser signed in to the dashboard (its cookie). */
  readonly token?: string;
  /** Sent with every request (the dashboard's X-Berth-UI; the admin's X-Berth-Project). */
  readonly headers?: Readonly<Record<string, string>>;
  readonly fetch?: typeof fetch;
  /** Bound on one request, answer included (default 30 s); for `followLogs`, on the answer's headers. */
  readonly timeoutMs?: number;
}

export interface RequestOptions {
  readonly signal?: AbortSignal;
}

/** What `waitForDeployment` reports while it waits, in the order it happened. */
export type DeploymentProgress = { readonly kind: 'step'; readonly deployment: Deployment } | { readonly kind: 'event'; readonly event: ServiceEvent };

export interface WaitOptions extends RequestOptions, Colour {
  readonly onProgress?: (progress: DeploymentProgress) => void;
  /** Default 15 minutes: longer than the server's health timeout and drain together. */
  readonly timeoutMs?: number;
  readonly pollIntervalMs?: number;
}

export interface FollowLogsOptions extends Colour {
  /** Lines of each running task to show before following (the server's default is 20). */
  readonly tail?: number;
  /** Following ends only when this aborts, or when the server ends the stream. */
  readonly signal: AbortSignal;
  readonly onLine: (line: LogLine) => void;
}

const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_WAIT_MS = 15 * 60_000;
const DEFAULT_POLL_MS = 500;
/** Events fetched to find those of the deployment being waited for. */
const RECENT_EVENTS = 100;

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
type Query = Record<string, string | number | undefined>;

interface CallOptions extends RequestOptions {
  /** Overrides the client's bound for this call (a renewal waits for the ACME server). */
  readonly timeoutMs?: number;
  readonly body?: unknown;
  readonly query?: Query;
}

/**
 * The berth API over `fetch`. Every method is one request (except the two
 * waits) and answers the server's document as the API schemas type it.
 * Failures throw BerthApiError (an error answer), BerthUnreachableError,
 * BerthTimeoutError or BerthResponseError; an aborted `signal` rejects with
 * the signal's reason.
 */
export class BerthClient {
  /** Stacks, and the project networks and volumes they use. */
  readonly stacks: StackApi;
  /** Managed databases: dumps, restores and verified backups. */
  readonly databases: DatabaseApi;
  private readonly base: string;
  private readonly token: string | null;
  private readonly headers: Readonly<Record<string, string>>;
  private readonly fetchFn: typeof fetch;
  private readonly timeoutMs: number;

  constructor(options: BerthClientOptions) {
    this.base = options.url.replace(/\/+$/, '');
    this.token = options.token ?? null;
    this.headers = options.headers ?? {};
    this.fetchFn = options.fetch ?? fetch;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.stacks = new StackApi((method, path, call) => this.call(method, path, call));
    this.databases = new DatabaseApi(
      (method, path, call) => this.call(method, path, call),
      (method, path, transfer) => this.transfer(method, path, transfer),
    );
  }

  /** Admin token only. */
  createProject(name: string, options?: RequestOptions): Promise<Static<typeof CreateProjectResponse>> {
    return this.call('POST', '/projects', { ...options, body: { name } });
  }

  /** Admin token only: who did what and when, newest first. */
  audit(query: { limit?: number } = {}, options?: RequestOptions): Promise<Static<typeof AuditDoc>> {
    return this.call('GET', '/audit', { ...options, query: { limit: query.limit } });
  }

  /** Admin token only: the gateway's TLS certificates. */
  certificates(options?: RequestOptions): Promise<Certificates> {
    return this.call('GET', '/certs', { ...options });
  }

  /** Admin token only: replaces a host's certificate now, with a new key; waits (up to 3 min) for the ACME server. */
  renewCertificate(host: string, options?: RequestOptions): Promise<Certificate> {
    return this.call('POST', `/certs/${encodeURIComponent(host)}/renew`, { ...options, timeoutMs: RENEW_TIMEOUT_MS });
  }

  /** Admin token only: the nodes tasks run on. */
  nodes(options?: RequestOptions): Promise<Nodes> {
    return this.call('GET', '/nodes', { ...options });
  }

  /** Admin token only: one node, by name or id. */
  node(name: string, options?: RequestOptions): Promise<NodeDocument> {
    return this.call('GET', nodePath(name), { ...options });
  }

  /** Admin token only: the `docker swarm join` command for a new worker or manager. */
  joinCommand(role: 'worker' | 'manager', options?: RequestOptions): Promise<{ role: string; command: string }> {
    return this.call('GET', '/nodes/join-command', { ...options, query: { role } });
  }

  /** Admin token only: moves the node's tasks elsewhere, start-first, then drains it; answers at once. */
  drainNode(name: string, options?: RequestOptions): Promise<NodeDocument> {
    return this.call('POST', `${nodePath(name)}/drain`, { ...options });
  }

  /** Admin token only. */
  activateNode(name: string, options?: RequestOptions): Promise<NodeDocument> {
    return this.call('POST', `${nodePath(name)}/activate`, { ...options });
  }

  /** Admin token only: sets labels; a null value removes one. */
  labelNode(name: string, labels: Readonly<Record<string, string | null>>, options?: RequestOptions): Promise<NodeDocument> {
    return this.call('PUT', `${nodePath(name)}/labels`, { ...options, body: { labels } });
  }

  /** Admin token only: removes a node from the Swarm (one still up needs `force`). */
  removeNode(name: string, force = false, options?: RequestOptions): Promise<NodeDocument> {
    return this.call('DELETE', nodePath(name), { ...options, query: force ? { force: 'true' } : {} });
  }

  listServices(options?: RequestOptions): Promise<ServiceSummaryDoc[]> {
    return this.call('GET', '/services', { ...options });
  }

  createService(name: string, healthCheck?: HealthCheck, options?: RequestOptions): Promise<ServiceSummaryDoc> {
    const body: Static<typeof CreateServiceBody> = healthCheck === undefined ? { name } : { name, health_check: healthCheck };
    return this.call('POST', '/services', { ...options, body });
  }

  /** The status document: tasks, events, target health, the latest deployment. */
  getService(name: string, options?: RequestOptions & Colour): Promise<ServiceStatusDoc> {
    return this.call('GET', servicePath(name), { ...options, query: { colour: options?.colour } });
  }

  logs(name: string, query: { tail?: number; streams?: number } & Colour = {}, options?: RequestOptions): Promise<Logs> {
    return this.call('GET', servicePath(name), { ...options, query: { view: 'logs', tail: query.tail, streams: query.streams, colour: query.colour } });
  }

  dockerCredentials(name: string, options?: RequestOptions): Promise<Static<typeof DockerCredentialsDoc>> {
    return this.call('GET', servicePath(name), { ...options, query: { view: 'docker' } });
  }

  /** Stores a new revision (in `colour`, made when new); the deployment runs in the background (see `waitForDeployment`). */
  updateService(name: string, definition: ServiceDefinition, options?: RequestOptions & Colour): Promise<Static<typeof UpdateServiceResponse>> {
    return this.call('PUT', servicePath(name), { ...options, body: definition, query: { colour: options?.colour } });
  }

  /** Deletes the service, or with `colour` terminates that colour (never the live one). */
  deleteService(name: string, options?: RequestOptions & Colour): Promise<Static<typeof DeleteServiceResponse>> {
    return this.call('DELETE', servicePath(name), { ...options, query: { colour: options?.colour } });
  }

  /** Moves live traffic to `colour`; `force` even when it has no healthy task. */
  switchColour(name: string, colour: string, options?: RequestOptions & { force?: boolean }): Promise<SwitchResult> {
    const body = options?.force === undefined ? { colour } : { colour, force: options.force };
    return this.call('POST', `${servicePath(name)}/switch`, { ...options, body });
  }

  /** Deploys what the service (or `colour`) runs again as a new revision, pulling its tag again. */
  redeploy(name: string, options?: RequestOptions & Colour): Promise<Static<typeof UpdateServiceResponse>> {
    return this.call('POST', `${servicePath(name)}/redeploy`, { ...options, query: { colour: options?.colour } });
  }

  /** Without `after`: the latest `limit` events; with it: the events after that id. Oldest first either way. */
  events(name: string, query: { after?: number; limit?: number } & Colour = {}, options?: RequestOptions): Promise<Events> {
    return this.call('GET', `${servicePath(name)}/events`, { ...options, query: { after: query.after, limit: query.limit, colour: query.colour } });
  }

  /** Newest first. */
  deployments(name: string, options?: RequestOptions & Colour): Promise<Deployment[]> {
    return this.call('GET', `${servicePath(name)}/deployments`, { ...options, query: { colour: options?.colour } });
  }

  /** Revisions, newest first: image, limits, port, command and variable names (never values). */
  revisions(name: string, options?: RequestOptions): Promise<Revision[]> {
    return this.call('GET', `${servicePath(name)}/revisions`, { ...options });
  }

  /** The service's last hour for charts: memory, request rate, error share, p95. */
  serviceMetrics(name: string, options?: RequestOptions): Promise<ServiceMetrics> {
    return this.call('GET', `${servicePath(name)}/metrics`, { ...options });
  }

  deployment(name: string, id: number, options?: RequestOptions): Promise<Deployment> {
    return this.call('GET', `${servicePath(name)}/deployments/${id}`, { ...options });
  }

  /** Rolls back a deployment that has not switched traffic yet; 409 once it has. */
  cancelDeployment(name: string, id: number, options?: RequestOptions): Promise<Deployment> {
    return this.call('POST', `${servicePath(name)}/deployments/${id}/cancel`, { ...options });
  }

  /**
   * Polls the deployment and the service's new events until the deployment
   * finishes, reporting each step change and event once, in order. Resolves
   * with the finished deployment whatever its outcome (`step` says which);
   * throws BerthTimeoutError after `timeoutMs`.
   */
  async waitForDeployment(name: string, id: number, options: WaitOptions = {}): Promise<Deployment> {
    const { signal, onProgress } = options;
    const timeoutMs = options.timeoutMs ?? DEFAULT_WAIT_MS;
    const deadline = Date.now() + timeoutMs;
    let deployment = await this.deployment(name, id, { signal });
    let step = deployment.step;
    // The deployment's own events so far led to the step it is at now, so they are reported before it.
    const { colour } = options;
    const recent = (await this.events(name, { limit: RECENT_EVENTS, colour }, { signal })).events;
    let cursor = recent.at(-1)?.id ?? 0;
    for (const event of recent) if (event.deployment_id === id) onProgress?.({ kind: 'event', event });
    onProgress?.({ kind: 'step', deployment });

    const reportEventsAfterCursor = async (): Promise<void> => {
      const fresh = (await this.events(name, cursor > 0 ? { after: cursor, colour } : { colour }, { signal })).events.filter((e) => e.id > cursor);
      for (const event of fresh) onProgress?.({ kind: 'event', event });
      cursor = fresh.at(-1)?.id ?? cursor;
    };

    while (!deployment.finished) {
      if (Date.now() >= deadline) {
        throw new BerthTimeoutError(`Deployment ${id} of '${name}' is still at step '${step}' after ${Math.round(timeoutMs / 1000)} s`);
      }
      await pause(options.pollIntervalMs ?? DEFAULT_POLL_MS, signal);
      deployment = await this.deployment(name, id, { signal });
      await reportEventsAfterCursor();
      if (deployment.step !== step) {
        step = deployment.step;
        onProgress?.({ kind: 'step', deployment });
      }
    }
    // The events saying how it ended are written with the final step; fetch them once more.
    await reportEventsAfterCursor();
    return deployment;
  }

  /**
   * Follows the logs of every task of the service, including tasks that start
   * later, until `signal` aborts (then it resolves) or the server ends the
   * stream (it resolves too; check `signal.aborted` to tell which).
   */
  followLogs(name: string, options: FollowLogsOptions): Promise<void> {
    return this.stream(`${servicePath(name)}/logs/stream`, options);
  }

  /** Queues a job (or, with `schedule`, a schedule of runs). */
  createJob(job: JobInput, options?: RequestOptions): Promise<Static<typeof CreateJobResponse>> {
    return this.call('POST', '/jobs', { ...options, body: job });
  }

  /** The project's jobs, newest first. */
  listJobs(query: { limit?: number } = {}, options?: RequestOptions): Promise<JobSummary[]> {
    return this.call('GET', '/jobs', { ...options, query: { limit: query.limit } });
  }

  getJob(id: number, options?: RequestOptions): Promise<Job> {
    return this.call('GET', `/jobs/${id}`, { ...options });
  }

  /** Each attempt's last `tail` lines, newest attempt first. */
  jobLogs(id: number, query: { tail?: number } = {}, options?: RequestOptions): Promise<Logs> {
    return this.call('GET', `/jobs/${id}/logs`, { ...options, query: { tail: query.tail } });
  }

  /** Follows the job's output; resolves once the job has finished and all of it was sent, or when `signal` aborts. */
  followJobLogs(id: number, options: FollowLogsOptions): Promise<void> {
    return this.stream(`/jobs/${id}/logs/stream`, options);
  }

  cancelJob(id: number, options?: RequestOptions): Promise<Job> {
    return this.call('POST', `/jobs/${id}/cancel`, { ...options });
  }

  private async stream(path: string, options: FollowLogsOptions): Promise<void> {
    const { signal } = options;
    // Only the wait for the answer's headers is bounded: the stream itself is open-ended by design.
    const headersDeadline = new AbortController();
    const timer = setTimeout(() => headersDeadline.abort(timeoutReason(this.timeoutMs)), this.timeoutMs);
    let response: Response;
    try {
      response = await this.send('GET', path, { signal, query: { tail: options.tail, colour: options.colour } }, headersDeadline.signal);
      if (!response.ok) throw await apiError(response);
    } finally {
      clearTimeout(timer);
    }
    if (!response.body) throw new BerthResponseError('The log stream answered without a body');
    try {
      await readNdjson(
        response.body,
        (value) => options.onLine(asLogLine(value)),
        (cause) => new BerthUnreachableError(this.base, cause),
      );
    } catch (error) {
      // Aborting is how the caller ends following; the read that it broke off is not a failure.
      if (signal.aborted) return;
      throw error;
    }
  }

  /**
   * A request whose body or answer is a stream of bytes (a dump): bounded by idleness — no byte
   * moving either way for `idleMs` — rather than by its length, which has no limit.
   */
  private async transfer(method: Method, path: string, options: TransferOptions): Promise<Transfer> {
    const idle = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const touch = (): void => {
      clearTimeout(timer);
      timer = setTimeout(() => idle.abort(new BerthTimeoutError(`No data moved to or from the berth server for ${Math.round(options.idleMs / 1000)} s`)), options.idleMs);
    };
    const headers: Record<string, string> = { ...this.headers, ...(this.token === null ? {} : { 'x-auth-token': this.token }) };
    if (options.body) headers['content-type'] = 'application/octet-stream';
    const upload = options.body;
    const sent = upload
      ? (async function* () {
          for await (const chunk of upload) {
            touch();
            yield chunk;
          }
        })()
      : undefined;
    const signal = options.signal ? AbortSignal.any([options.signal, idle.signal]) : idle.signal;
    touch();
    let response: Response;
    try {
      response = await this.fetchFn(`${this.base}${path}${queryString(options.query)}`, { method, headers, signal, ...(sent ? { body: sent as unknown as BodyInit, duplex: 'half' } : {}) } as RequestInit);
      if (!response.ok) throw apiErrorFromText(response, await response.text());
    } catch (error) {
      clearTimeout(timer);
      throw error instanceof BerthApiError ? error : this.transportError(error, options.signal, idle.signal);
    }
    const transportError = (error: unknown): unknown => this.transportError(error, options.signal, idle.signal);
    const body = response.body;
    async function* received(): AsyncGenerator<Uint8Array> {
      const reader = body?.getReader();
      try {
        if (!reader) return;
        for (;;) {
          const chunk = await reader.read();
          if (chunk.done) return;
          touch();
          yield chunk.value;
        }
      } catch (error) {
        throw transportError(error);
      } finally {
        clearTimeout(timer);
        // A reader that stopped early lets the rest of the body go.
        if (reader) await reader.cancel().catch(() => undefined);
      }
    }
    if (!body) clearTimeout(timer);
    return { headers: response.headers, body: received() };
  }

  private async call<T>(method: Method, path: string, options: CallOptions): Promise<T> {
    const { response, text } = await this.sendAndRead(method, path, options);
    if (!response.ok) throw apiErrorFromText(response, text);
    try {
      return JSON.parse(text) as T;
    } catch (error) {
      throw new BerthResponseError(`${method} ${path} answered ${response.status} with a body that is not JSON: ${clip(text)}`, { cause: error });
    }
  }

  private async sendAndRead(method: Method, path: string, options: CallOptions): Promise<{ response: Response; text: string }> {
    const deadline = new AbortController();
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    const timer = setTimeout(() => deadline.abort(timeoutReason(timeoutMs)), timeoutMs);
    try {
      const response = await this.send(method, path, options, deadline.signal);
      const text = await response.text().catch((error: unknown) => {
        throw this.transportError(error, options.signal, deadline.signal);
      });
      return { response, text };
    } finally {
      clearTimeout(timer);
    }
  }

  /** One fetch, ended by the caller's signal or by `deadline`, whichever comes first. */
  private async send(method: Method, path: string, options: CallOptions, deadline: AbortSignal): Promise<Response> {
    const headers: Record<string, string> = { ...this.headers, ...(this.token === null ? {} : { 'x-auth-token': this.token }), accept: 'application/json' };
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    try {
      return await this.fetchFn(`${this.base}${path}${queryString(options.query)}`, {
        method,
        headers,
        ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
        signal: options.signal ? AbortSignal.any([options.signal, deadline]) : deadline,
      });
    } catch (error) {
      throw this.transportError(error, options.signal, deadline);
    }
  }

  private transportError(error: unknown, callerSignal: AbortSignal | undefined, deadline: AbortSignal): unknown {
    if (callerSignal?.aborted) return callerSignal.reason;
    if (deadline.aborted) return deadline.reason;
    return new BerthUnreachableError(this.base, error);
  }
}

function servicePath(name: string): string {
  return `/services/${encodeURIComponent(name)}`;
}

function queryString(query: Query | undefined): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query ?? {})) if (value !== undefined) params.set(key, String(value));
  const text = params.toString();
  return text ? `?${text}` : '';
}

function timeoutReason(ms: number): BerthTimeoutError {
  return new BerthTimeoutError(`The berth server did not answer within ${Math.round(ms / 1000)} s`);
}

async function apiError(response: Response): Promise<BerthApiError> {
  return apiErrorFromText(response, await response.text());
}

function apiErrorFromText(response: Response, text: string): BerthApiError {
  const body = parseErrorBody(text);
  const message = body?.Error ?? `HTTP ${response.status} ${response.statusText}${text ? `: ${clip(text)}` : ''}`;
  return new BerthApiError(response.status, body?.code, message, body?.problems ?? []);
}

function parseErrorBody(text: string): { Error: string; code?: string; problems?: ApiProblem[] } | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    // Not JSON: a proxy's error page, say. The caller falls back to the status line.
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const { Error: message, code, problems } = value as Record<string, unknown>;
  if (typeof message !== 'string') return null;
  return { Error: message, ...(typeof code === 'string' ? { code } : {}), ...(Array.isArray(problems) ? { problems: problems.filter(isProblem) } : {}) };
}

function isProblem(value: unknown): value is ApiProblem {
  return typeof value === 'object' && value !== null && typeof (value as ApiProblem).path === 'string' && typeof (value as ApiProblem).message === 'string';
}

function asLogLine(value: unknown): LogLine {
  if (typeof value === 'object' && value !== null) {
    const { stream_name, time, message } = value as Record<string, unknown>;
    if (typeof stream_name === 'string' && typeof time === 'string' && typeof message === 'string') return { stream_name, time, message };
  }
  throw new BerthResponseError(`The log stream sent a line that is not {stream_name, time, message}: ${clip(JSON.stringify(value))}`);
}

function clip(text: string): string {
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return oneLine.length > 160 ? `${oneLine.slice(0, 160)}…` : oneLine;
}

function nodePath(name: string): string {
  return `/nodes/${encodeURIComponent(name)}`;
}
