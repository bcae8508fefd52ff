import type { Certificates } from '../domain/certificates.js';
import { CertificatesNotManagedError } from '../domain/errors.js';

/** Plain HTTP only. */
export const NO_CERTIFICATES: Certificates = {
  mode: 'off',
  list: () => [],
  renew: () => Promise.reject(new CertificatesNotManagedError('the gateway serves plain HTTP only; start the server with --tls acme')),
};
