import { Type, type Static } from '@sinclair/typebox';

const Time = Type.Union([Type.String({ description: 'ISO 8601, UTC' }), Type.Null()]);

export const CertificateDoc = Type.Object({
  host: Type.String(),
  source: Type.String({ description: 'the ACME directory URL, or the certificate file the user brought' }),
  issuer: Type.Union([Type.String(), Type.Null()]),
  names: Type.Array(Type.String(), { description: 'the DNS names the certificate is valid for' }),
  not_before: Time,
  expires_at: Time,
  renew_at: Type.Union([Type.String(), Type.Null()], { description: 'when berth renews it (two thirds of its lifetime); null for a user-brought one' }),
  renewing: Type.Boolean(),
  failures: Type.Integer({ description: 'failed tries since the last success' }),
  last_attempt_at: Time,
  next_attempt_at: Time,
  last_error: Type.Union([Type.Object({ code: Type.String(), message: Type.String() }), Type.Null()]),
});

export const CertificatesDoc = Type.Object({
  mode: Type.Union([Type.Literal('off'), Type.Literal('acme'), Type.Literal('files')]),
  certificates: Type.Array(CertificateDoc),
});

export const CertificateHostParams = Type.Object({ host: Type.String({ maxLength: 253 }) });

export type CertificateDocT = Static<typeof CertificateDoc>;
export type CertificatesDocT = Static<typeof CertificatesDoc>;
