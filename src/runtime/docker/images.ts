import type Docker from 'dockerode';
import type { Readable } from 'node:stream';
import { RuntimeImageMissingError, RuntimeUnavailableError } from '../../domain/errors.js';
import type { RegistryAuth } from '../task-runtime.js';
import { engineCall, statusOf, tolerating, wrapEngineError } from './engine-errors.js';

const PULL_TIMEOUT_MS = 10 * 60_000;

/** The engine's images. */
export class DockerImages {
  constructor(
    private readonly docker: Docker,
    /** Pulls have their own bound, longer than a request's. */
    private readonly streams: Docker,
  ) {}

  async names(reference: string): Promise<readonly string[] | null> {
    try {
      const image = await this.docker.getImage(reference).inspect();
      return [...(image.RepoTags ?? []), ...(image.RepoDigests ?? [])];
    } catch (error) {
      if (statusOf(error) === 404) return null;
      throw wrapEngineError(`inspect image ${reference}`, error);
    }
  }

  async pull(reference: string, auth: RegistryAuth | null): Promise<void> {
    const stream = (await engineCall(`pull ${reference}`, () => this.streams.pull(reference, auth ? { authconfig: auth } : {}))) as Readable;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        stream.destroy();
        reject(new RuntimeUnavailableError(`pulling ${reference} took longer than ${PULL_TIMEOUT_MS / 1000} s`));
      }, PULL_TIMEOUT_MS);
      this.streams.modem.followProgress(stream, (error: Error | null, output: { error?: string }[]) => {
        clearTimeout(timer);
        const failure = error?.message ?? output.find((o) => o.error)?.error;
        if (failure) reject(new RuntimeImageMissingError(`the engine could not pull it: ${failure}`));
        else resolve();
      });
    });
  }

  async remove(reference: string): Promise<void> {
    await engineCall(`remove image ${reference}`, () => tolerating([404, 409], () => this.docker.getImage(reference).remove()));
  }
}
