import { request } from 'node:http';
import type { Route } from './gateway.js';
import { GatewayRoutesRejectedError, GatewayUnavailableError } from './errors.js';

interface Reply {
  readonly status: number;
  readonly body: string;
}

/** The loopback admin endpoint of the gateway's nginx. */
export class NginxAdminClient {
  constructor(private readonly port: number) {}

  /** The id of the configuration nginx runs (see NginxConfig.id). */
  async configId(timeoutMs: number): Promise<string> {
    const reply = await this.send('GET', '/config-id', undefined, timeoutMs);
    if (reply.status !== 200) throw this.unexpected('GET /config-id', reply);
    return reply.body;
  }

  /** Replaces the whole table; resolves with the version nginx stored it as. */
  async putRoutes(routes: readonly Route[], timeoutMs: number): Promise<number> {
    const body = JSON.stringify({
      routes: routes.map((route) => ({
        prefix: route.prefix,
        targets: route.targets.map((target) => ({ host: target.host, port: target.port })),
      })),
    });
    const reply = await this.send('PUT', '/routes', body, timeoutMs);
    if (reply.status === 400) {
      throw new GatewayRoutesRejectedError(`nginx refused the route table: ${errorMessage(reply.body)}`);
    }
    if (reply.status !== 200) throw this.unexpected('PUT /routes', reply);
    return (JSON.parse(reply.body) as { version: number }).version;
  }

  private unexpected(what: string, reply: Reply): GatewayUnavailableError {
    return new GatewayUnavailableError(
      `gateway admin endpoint answered ${what} with ${reply.status}: ${reply.body.slice(0, 200)}`,
    );
  }

  private send(method: string, path: string, body: string | undefined, timeoutMs: number): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: this.port,
          method,
          path,
          agent: false,
          headers: body === undefined ? {} : { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => {
            clearTimeout(timer);
            resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') });
          });
          res.on('error', fail);
        },
      );
      const fail = (error: Error): void => {
        clearTimeout(timer);
        reject(
          new GatewayUnavailableError(`gateway admin endpoint 127.0.0.1:${this.port}: ${error.message}`, {
            cause: error,
          }),
        );
      };
      const timer = setTimeout(() => req.destroy(new Error(`${method} ${path} timed out after ${timeoutMs} ms`)), timeoutMs);
      req.on('error', fail);
      req.end(body);
    });
  }
}

function errorMessage(body: string): string {
  try {
    const parsed = JSON.parse(body) as { error?: unknown };
    return typeof parsed.error === 'string' ? parsed.error : body;
  } catch {
    // Not the JSON the Lua handler writes: show what came back as it is.
    return body;
  }
}
