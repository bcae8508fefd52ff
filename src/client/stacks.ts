import type { Static } from '@sinclair/typebox';
import type {
  PutStackBody,
  PutStackResponse,
  ResourceDoc,
  StackCredentialsDoc,
  StackDoc,
  StackSummaryDoc,
} from '../api/stack-schemas.js';

export type StackUp = Static<typeof PutStackBody>;
export type StackUpResult = Static<typeof PutStackResponse>;
export type StackStatus = Static<typeof StackDoc>;
export type StackServiceStatus = StackStatus['services'][number];
export type StackSummary = Static<typeof StackSummaryDoc>;
export type ProjectResource = Static<typeof ResourceDoc>;
export type StackServiceAction = 'start' | 'stop' | 'restart' | 'kill' | 'rm';

/** One request to the API, as the client makes every other. */
export type Caller = <T>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, options: { body?: unknown; query?: Record<string, string | undefined>; signal?: AbortSignal; timeoutMs?: number }) => Promise<T>;

/** `up` waits while the server reads the files and stores every changed service. */
const UP_TIMEOUT_MS = 120_000;

/** Stacks (compose files run as services), and the project networks and volumes they use. */
export class StackApi {
  constructor(private readonly call: Caller) {}

  /** compose up; with dryRun, compose config: what up would do, nothing changed. */
  up(name: string, body: StackUp, options: { dryRun?: boolean; signal?: AbortSignal } = {}): Promise<StackUpResult> {
    return this.call('PUT', stackPath(name), { body, query: { dry_run: options.dryRun ? 'true' : undefined }, timeoutMs: UP_TIMEOUT_MS, ...signalOf(options) });
  }

  list(options: { signal?: AbortSignal } = {}): Promise<StackSummary[]> {
    return this.call('GET', '/stacks', signalOf(options));
  }

  get(name: string, options: { signal?: AbortSignal } = {}): Promise<StackStatus> {
    return this.call('GET', stackPath(name), signalOf(options));
  }

  /** compose down: the stack goes (its volumes with `volumes`); resolves once the server took the request. */
  down(name: string, options: { volumes?: boolean; signal?: AbortSignal } = {}): Promise<{ name: string; status: string }> {
    return this.call('DELETE', stackPath(name), { query: { volumes: options.volumes ? 'true' : undefined }, ...signalOf(options) });
  }

  /** compose start|stop|restart|kill|rm of one service, by its compose name. */
  act(name: string, service: string, action: StackServiceAction, options: { signal?: string; stop?: boolean } = {}): Promise<StackServiceStatus> {
    const body = action === 'kill' ? { ...(options.signal === undefined ? {} : { signal: options.signal }) } : action === 'rm' ? { stop: options.stop ?? false } : undefined;
    return this.call('POST', `${stackPath(name)}/services/${encodeURIComponent(service)}/${action}`, { ...(body === undefined ? {} : { body }) });
  }

  /** Push credentials for the services that build, each scoped to its own repository. */
  credentials(name: string, services: readonly string[]): Promise<Static<typeof StackCredentialsDoc>> {
    return this.call('POST', `${stackPath(name)}/credentials`, { body: { services } });
  }

  networks(): Promise<ProjectResource[]> {
    return this.call('GET', '/networks', {});
  }

  createNetwork(name: string): Promise<ProjectResource> {
    return this.call('POST', '/networks', { body: { name } });
  }

  removeNetwork(name: string): Promise<{ name: string }> {
    return this.call('DELETE', `/networks/${encodeURIComponent(name)}`, {});
  }

  volumes(): Promise<ProjectResource[]> {
    return this.call('GET', '/volumes', {});
  }

  createVolume(name: string): Promise<ProjectResource> {
    return this.call('POST', '/volumes', { body: { name } });
  }

  removeVolume(name: string): Promise<{ name: string }> {
    return this.call('DELETE', `/volumes/${encodeURIComponent(name)}`, {});
  }
}

function stackPath(name: string): string {
  return `/stacks/${encodeURIComponent(name)}`;
}

function signalOf(options: { signal?: AbortSignal }): { signal?: AbortSignal } {
  return options.signal === undefined ? {} : { signal: options.signal };
}
