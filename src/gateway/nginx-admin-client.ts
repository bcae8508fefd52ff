import { request } from 'node:http';
import { GatewayUnavailableError } from './errors.js';

interface Reply {
  readonly status: number;
  readonly body: string;
}

/** The loopback admin endpoint of the gateway's nginx: it tells which config nginx runs. */
export class NginxAdminClient {
  constructor(private readonly port: number) {}

  /** The id of the configuration nginx runs (see NginxConfig.id). */
  async configId(timeoutMs: number): Promise<string> {
    const reply = await this.get('/config-id', timeoutMs);
    if (reply.status !== 200) throw this.unexpected('GET /config-id', reply);
    return reply.body;
  }

  /** The route metrics berth's module counted (ngx_http_berth_metrics_module.c). */
  async routeMetrics(timeoutMs: number): Promise<string> {
    const reply = await this.get('/route-metrics', timeoutMs);
    if (reply.status !== 200) throw this.unexpected('GET /route-metrics', reply);
    return reply.body;
  }

  private unexpected(what: string, reply: Reply): GatewayUnavailableError {
    return new GatewayUnavailableError(
      `gateway admin endpoint answered ${what} with ${reply.status}: ${reply.body.slice(0, 200)}`,
    );
  }

  private get(path: string, timeoutMs: number): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: this.port,
          path,
          agent: false,
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
      const timer = setTimeout(() => req.destroy(new Error(`GET ${path} timed out after ${timeoutMs} ms`)), timeoutMs);
      req.on('error', fail);
      req.end();
    });
  }
}
