import { readFile } from 'node:fs/promises';
import { Agent } from 'node:https';
import { rootCertificates } from 'node:tls';
import acme from 'acme-client';
import { AcmeChallengeFailedError, AcmeRateLimitedError, AcmeRefusedError, AcmeUnreachableError, BerthError, ConfigError } from '../domain/errors.js';
import type { CertificateServing } from '../gateway/gateway.js';
import { combinePem } from './pem.js';

/** Gets a certificate (its private key and chain, combined) for a host. */
export interface CertificateIssuer {
  /** Where certificates come from, for logs and `certs ls`. */
  readonly source: string;
  issue(host: string): Promise<string>;
}

export interface AcmeIssuerOptions {
  readonly directoryUrl: string;
  readonly email: string;
  /** PEM; the account is registered (or found again) with it at the first issuance. */
  readonly accountKey: string;
  readonly challenges: Pick<CertificateServing, 'putChallenge' | 'removeChallenge'>;
  /** Bound on one whole issuance; default 120 s. */
  readonly timeoutMs?: number;
}

/** Bound on one HTTP request to the ACME server. */
const REQUEST_TIMEOUT_MS = 30_000;
const ISSUE_TIMEOUT_MS = 120_000;
const NO_RETRY_PROBLEMS = new Set(['urn:ietf:params:acme:error:badNonce']);

/** An ACME problem document (RFC 8555 §6.7) the server answered with. */
class AcmeProblem extends Error {
  constructor(
    readonly type: string,
    readonly detail: string,
  ) {
    super(detail);
  }
}

/**
 * Configures the HTTP client acme-client uses (one per process: the library keeps it at
 * module level): a bound on every request; no retries of its own, since a server that is down
 * would hold an issuance for over a minute per request and berth retries with its own
 * backoff; problem documents kept as such, so a rate limit is told from a refusal; and, for a
 * private ACME server (pebble, step-ca), its CA trusted besides the usual roots.
 */
export async function configureAcmeHttp(options: { readonly caFile: string | null }): Promise<void> {
  const http = acme.axios;
  http.defaults.timeout = REQUEST_TIMEOUT_MS;
  const settings = (http.defaults as { acmeSettings?: { retryMaxAttempts: number } }).acmeSettings;
  if (settings !== undefined) settings.retryMaxAttempts = 0;
  if (options.caFile !== null) {
    let ca: string;
    try {
      ca = await readFile(options.caFile, 'utf8');
    } catch (error) {
      throw new ConfigError(`--acme-ca-file ${options.caFile}: ${(error as Error).message}`, { cause: error });
    }
    http.defaults.httpsAgent = new Agent({ ca: [...rootCertificates, ca], keepAlive: false });
  }
  if (!problemsInstalled) {
    problemsInstalled = true;
    http.interceptors.response.use((response) => {
      const body = response.data as { type?: unknown; detail?: unknown } | undefined;
      const isProblem = String(response.headers['content-type'] ?? '').startsWith('application/problem+json');
      if (response.status >= 400 && isProblem && typeof body?.type === 'string' && !NO_RETRY_PROBLEMS.has(body.type)) {
        throw new AcmeProblem(body.type, typeof body.detail === 'string' ? body.detail : `HTTP ${response.status}`);
      }
      return response;
    });
  }
}
let problemsInstalled = false;

/** A new ACME account key (ECDSA P-256), PEM. */
export async function createAccountKey(): Promise<string> {
  return (await acme.crypto.createPrivateEcdsaKey()).toString();
}

/** Issues certificates with the HTTP-01 challenge, which the gateway answers itself. */
export class AcmeIssuer implements CertificateIssuer {
  readonly source: string;
  private readonly client: acme.Client;
  private registered = false;

  constructor(private readonly options: AcmeIssuerOptions) {
    this.source = options.directoryUrl;
    this.client = new acme.Client({
      directoryUrl: options.directoryUrl,
      accountKey: options.accountKey,
      // Polling an order or a challenge: 1 s, 2, 4 … 8 s, 12 tries (about a minute and a half).
      backoffAttempts: 12,
      backoffMin: 1_000,
      backoffMax: 8_000,
    });
  }

  async issue(host: string): Promise<string> {
    const timeoutMs = this.options.timeoutMs ?? ISSUE_TIMEOUT_MS;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new AcmeUnreachableError(`${this.source}: no certificate for ${host} within ${timeoutMs / 1000} s`)), timeoutMs);
    });
    try {
      return await Promise.race([this.issueNow(host), deadline]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async issueNow(host: string): Promise<string> {
    const tokens: string[] = [];
    try {
      if (!this.registered) {
        await this.client.createAccount({ termsOfServiceAgreed: true, contact: [`mailto:${this.options.email}`] });
        this.registered = true;
      }
      const [key, csr] = await acme.crypto.createCsr({ commonName: host, altNames: [host] }, await acme.crypto.createPrivateEcdsaKey());
      const order = await this.client.createOrder({ identifiers: [{ type: 'dns', value: host }] });
      for (const authz of await this.client.getAuthorizations(order)) {
        if (authz.status === 'valid') continue;
        const challenge = authz.challenges.find((c) => c.type === 'http-01');
        if (challenge === undefined) throw new AcmeRefusedError(`${this.source} offers no http-01 challenge for ${host}`);
        await this.options.challenges.putChallenge(challenge.token, await this.client.getChallengeKeyAuthorization(challenge));
        tokens.push(challenge.token);
        await this.client.completeChallenge(challenge);
        try {
          await this.client.waitForValidStatus(challenge);
        } catch (error) {
          if (error instanceof AcmeProblem || isNetworkError(error)) throw error;
          throw new AcmeChallengeFailedError(`${host}: ${(error as Error).message}`, { cause: error });
        }
      }
      const finalized = await this.client.finalizeOrder(order, csr);
      const chain = await this.client.getCertificate(finalized);
      return combinePem(key.toString(), chain);
    } catch (error) {
      throw this.classify(error, host);
    } finally {
      // A challenge answer left behind is a token nobody asks for again; the issuance's own outcome matters.
      await Promise.all(tokens.map((token) => this.options.challenges.removeChallenge(token).catch(() => undefined)));
    }
  }

  private classify(error: unknown, host: string): BerthError {
    if (error instanceof BerthError) return error;
    if (error instanceof AcmeProblem) {
      const Kind = error.type.endsWith(':rateLimited') ? AcmeRateLimitedError : AcmeRefusedError;
      return new Kind(`${host}: ${error.detail} (${error.type})`, { cause: error });
    }
    if (isNetworkError(error)) {
      const code = (error as { code?: string }).code;
      return new AcmeUnreachableError(`${this.source}: ${code ?? ''}${code ? ' ' : ''}${(error as Error).message}`, { cause: error });
    }
    return new AcmeRefusedError(`${host}: ${(error as Error).message}`, { cause: error });
  }
}

/** No answer at all: refused, reset, timed out, a name that does not resolve, a certificate not trusted. */
function isNetworkError(error: unknown): boolean {
  const axiosError = error as { isAxiosError?: boolean; response?: unknown } | null;
  return axiosError?.isAxiosError === true && axiosError.response === undefined;
}
