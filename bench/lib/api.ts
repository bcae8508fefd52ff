import { HELLO_IMAGE } from './images.js';
import { sleep } from '../../src/process/wait.js';

export interface ApiResponse {
  readonly status: number;
  readonly json: any;
}

/** A small client of berth's HTTP API; every call is bounded in time. */
export class Api {
  constructor(
    readonly base: string,
    readonly token: string,
  ) {}

  async call(method: string, path: string, body?: unknown, timeoutMs = 30_000): Promise<ApiResponse> {
    const res = await fetch(`${this.base}${path}`, {
      method,
      headers: { 'x-auth-token': this.token, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    return { status: res.status, json: text ? JSON.parse(text) : null };
  }

  private async expect(method: string, path: string, status: number, body?: unknown): Promise<any> {
    const res = await this.call(method, path, body);
    if (res.status !== status) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(res.json)}`);
    return res.json;
  }

  async project(name: string): Promise<Api> {
    const json = await this.expect('POST', '/projects', 201, { name });
    return new Api(this.base, json.token as string);
  }

  async createService(name: string, healthCheck?: Record<string, unknown>): Promise<void> {
    await this.expect('POST', '/services', 201, { name, ...(healthCheck ? { health_check: healthCheck } : {}) });
  }

  /** PUT a definition; resolves with the deployment id. */
  async deploy(name: string, definition: Record<string, unknown>): Promise<number> {
    const json = await this.expect('PUT', `/services/${name}`, 200, definition);
    return json.deployment as number;
  }

  async status(name: string): Promise<any> {
    return (await this.expect('GET', `/services/${name}`, 200)).status;
  }

  async deployment(name: string, id: number): Promise<any> {
    return this.expect('GET', `/services/${name}/deployments/${id}`, 200);
  }

  async events(name: string): Promise<{ created_at: string; message: string }[]> {
    return (await this.expect('GET', `/services/${name}/events?limit=200`, 200)).events;
  }

  /** Polls until the deployment has finished; returns its document. */
  async waitDeployment(name: string, id: number, timeoutMs: number, intervalMs = 50): Promise<any> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const doc = await this.deployment(name, id);
      if (doc.finished) return doc;
      await sleep(intervalMs);
    }
    throw new Error(`deployment ${id} of ${name} did not finish within ${timeoutMs} ms`);
  }

  /** DELETE, then wait until the service is gone (its containers stopped and removed). */
  async remove(name: string, timeoutMs = 60_000): Promise<void> {
    await this.expect('DELETE', `/services/${name}`, 200);
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if ((await this.call('GET', `/services/${name}`)).status === 404) return;
      await sleep(100);
    }
    throw new Error(`service ${name} was not removed within ${timeoutMs} ms`);
  }
}

export function definition(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    image: HELLO_IMAGE,
    'memory-reservation': 16,
    'memory-limit': 32,
    'container-port': 80,
    environment: [{ name: 'GREETING', value: 'hello' }],
    ...overrides,
  };
}
