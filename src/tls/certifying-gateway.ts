import { nextServiceHosts } from '../domain/certificates.js';
import type { Gateway, Route, RouteRejection } from '../gateway/gateway.js';
import type { Logger } from '../reconciler/failure-log.js';
import type { AcmeCertificates } from './acme-certificates.js';

/**
 * The gateway as the reconciler sees it, telling the certificate manager which service hosts
 * (`<project>-<service>.<domain>`) are routed: a service gets its certificate once it first has
 * a healthy task, and loses it with its route. Certificates never hold routing back: the table
 * is served first, and a certificate's trouble is only logged here.
 */
export class CertifyingGateway implements Gateway {
  private hosts: ReadonlySet<string>;
  private held: Promise<void> = Promise.resolve();

  constructor(
    private readonly inner: Gateway,
    private readonly certificates: AcmeCertificates,
    private readonly domain: string,
    private readonly logger: Logger,
  ) {
    this.hosts = new Set(certificates.list().map((status) => status.host));
  }

  async setRoutes(routes: readonly Route[]): Promise<readonly RouteRejection[]> {
    const rejections = await this.inner.setRoutes(routes);
    const hosts = nextServiceHosts(this.hosts, routes, this.domain);
    this.hosts = hosts;
    // One after another, each with the hosts of its own table.
    this.held = this.held.then(() =>
      this.certificates.holdServiceHosts(hosts).catch((error: unknown) => {
        this.logger.warn(`certificates: updating the service hosts failed: ${(error as Error).message}`);
      }),
    );
    return rejections;
  }
}
