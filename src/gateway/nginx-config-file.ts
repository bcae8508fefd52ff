import { childEnvironment } from '../process/running-process.js';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { errorCode } from '../process/proc-fs.js';
import { GatewayConfigRejectedError, GatewayUnavailableError } from './errors.js';

const TEST_TIMEOUT_MS = 15_000;

/**
 * The nginx.conf on disk. A new text is written to a temp file, checked with `nginx -t`,
 * renamed into place and activated (reloaded); when activation fails the previous file is
 * put back. Changes run one at a time, so two never interleave.
 */
export class NginxConfigFile {
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly path: string,
    private readonly nginxBinary: string,
  ) {}

  apply(text: string, activate: () => Promise<void>): Promise<void> {
    const run = this.queue.then(() => this.applyNow(text, activate));
    // The next change waits for this one to settle; this one's failure belongs to its caller.
    this.queue = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  private async applyNow(text: string, activate: () => Promise<void>): Promise<void> {
    const previous = await readIfExists(this.path);
    const changed = previous !== text;
    if (changed) await this.replace(text);
    try {
      await activate();
    } catch (error) {
      if (changed) await this.restore(previous);
      throw error;
    }
  }

  private async replace(text: string): Promise<void> {
    const temp = `${this.path}.${randomUUID()}.tmp`;
    await writeFile(temp, text);
    try {
      await this.check(temp);
      await rename(temp, this.path);
    } finally {
      await rm(temp, { force: true });
    }
  }

  private async restore(previous: string | null): Promise<void> {
    if (previous === null) {
      await rm(this.path, { force: true });
      return;
    }
    const temp = `${this.path}.${randomUUID()}.tmp`;
    await writeFile(temp, previous);
    await rename(temp, this.path);
  }

  private check(file: string): Promise<void> {
    return new Promise((resolve, reject) => {
      execFile(this.nginxBinary, ['-t', '-q', '-c', file], { timeout: TEST_TIMEOUT_MS, env: childEnvironment() }, (error, _stdout, stderr) => {
        if (error === null) {
          resolve();
        } else if (errorCode(error) === 'ENOENT') {
          reject(
            new GatewayUnavailableError(
              `${this.nginxBinary} not found; the gateway needs Debian's nginx-light (and nginx-dev to build berth's module)`,
              { cause: error },
            ),
          );
        } else {
          const why = stderr.trim() || error.message;
          reject(new GatewayConfigRejectedError(`nginx -t rejected the gateway configuration: ${why}`, { cause: error }));
        }
      });
    });
  }
}

async function readIfExists(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return null;
    throw error;
  }
}
