import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { GatewayCertificateWriteError } from './errors.js';
import type { WorkerFiles } from './worker-files.js';

/** RFC 8555: a token is base64url, at least 128 bits of it. */
const TOKEN = /^[A-Za-z0-9_-]{16,128}$/;

/**
 * The answers to ACME HTTP-01 challenges, one file per token, which nginx serves itself at
 * `/.well-known/acme-challenge/<token>` on the gateway's plain HTTP address: no part of
 * berth is in the path of the ACME server's request.
 */
export class AcmeChallengeFiles {
  constructor(
    private readonly dir: string,
    private readonly files: WorkerFiles,
  ) {}

  async put(token: string, keyAuthorization: string): Promise<void> {
    try {
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
      await this.files.write(join(this.dir, checked(token)), keyAuthorization);
    } catch (error) {
      throw new GatewayCertificateWriteError(`cannot write the ACME challenge answer under ${this.dir}: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }

  async remove(token: string): Promise<void> {
    await rm(join(this.dir, checked(token)), { force: true });
  }
}

function checked(token: string): string {
  if (!TOKEN.test(token)) throw new GatewayCertificateWriteError(`'${token.slice(0, 140)}' is not an ACME challenge token`);
  return token;
}
