import { createServer, type Server } from 'node:http';
import type { ListenAddress } from '../net/listen-address.js';
import type { BerthMetrics } from './metrics.js';

/**
 * `--metrics-listen`: GET /metrics without a token, for a Prometheus on the same machine (or
 * a network the operator chose). Nothing else is served there.
 */
export async function listenForMetrics(metrics: BerthMetrics, address: ListenAddress, onError: (error: Error) => void): Promise<Server> {
  const server = createServer((request, response) => {
    if (request.method !== 'GET' || (request.url ?? '').split('?')[0] !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('only GET /metrics is served here\n');
      return;
    }
    metrics.text().then(
      ({ contentType, body }) => response.writeHead(200, { 'content-type': contentType }).end(body),
      (error: unknown) => {
        onError(error as Error);
        response.writeHead(500, { 'content-type': 'text/plain' }).end('collecting the metrics failed; the server log has details\n');
      },
    );
  });
  // Bounded: a scraper that stops reading does not hold a socket forever.
  server.requestTimeout = 10_000;
  server.headersTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(address.port, address.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}
