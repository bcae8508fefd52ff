import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { CertificateStatus } from '../../domain/certificates.js';
import { CertificateDoc, CertificateHostParams, CertificatesDoc, type CertificateDocT } from '../cert-schemas.js';
import type { ApiDeps } from '../ports.js';
import { ErrorBody } from '../schemas.js';

/** The gateway's TLS certificates (admin token). */
export function certificateRoutes(deps: ApiDeps): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.get(
      '/certs',
      {
        schema: {
          tags: ['certificates'],
          summary: "The gateway's certificates: host, issuer, expiry, renewal, last error (admin)",
          response: { 200: CertificatesDoc, 403: ErrorBody },
        },
      },
      async (request) => {
        deps.auth.requireAdmin(request);
        return { mode: deps.certificates.mode, certificates: deps.certificates.list().map(certificateDoc) };
      },
    );

    app.post(
      '/certs/:host/renew',
      {
        schema: {
          tags: ['certificates'],
          summary: 'Replace a certificate now, with a new key; answers once the ACME server issued it (admin)',
          params: CertificateHostParams,
          response: { 200: CertificateDoc, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody, 429: ErrorBody, 502: ErrorBody, 503: ErrorBody },
        },
      },
      async (request) => {
        deps.auth.requireAdmin(request);
        const status = await deps.certificates.renew(request.params.host.toLowerCase());
        deps.audit.record({ actor: `admin from ${request.ip}`, action: 'certificate.renew', target: status.host, detail: status.issuer });
        return certificateDoc(status);
      },
    );
  };
}

function certificateDoc(status: CertificateStatus): CertificateDocT {
  return {
    host: status.host,
    source: status.source,
    issuer: status.issuer,
    names: [...status.names],
    not_before: iso(status.notBefore),
    expires_at: iso(status.notAfter),
    renew_at: iso(status.renewAt),
    renewing: status.renewing,
    failures: status.failures,
    last_attempt_at: iso(status.lastAttemptAt),
    next_attempt_at: iso(status.nextAttemptAt),
    last_error: status.lastError === null ? null : { ...status.lastError },
  };
}

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}
