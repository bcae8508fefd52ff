import { ImageNotNamedError, ImageNotOwnedError } from '../domain/errors.js';
import type { TaskRuntime } from '../runtime/task-runtime.js';
import type { BackgroundWork } from './background-work.js';
import type { ImageChoice, ImageSource, ImageToRun } from './image-source.js';

export type PreparedImage =
  | { readonly status: 'ready'; readonly image: ImageToRun }
  | { readonly status: 'pulling' }
  | { readonly status: 'failed'; readonly reason: string };

/**
 * Gets the image a deployment or a job runs onto the runtime before its tasks are made: a
 * local image by its name is used at once, anything else is pulled in the background (a pass
 * asks again later). Shared by every kind of workload.
 */
export class ImagePreparation {
  constructor(
    private readonly runtime: TaskRuntime,
    private readonly images: ImageSource,
    private readonly work: BackgroundWork,
  ) {}

  /** `key` names the pull, so that a later pass finds its outcome; forget it once used. */
  async prepare(key: string, project: string, service: string, choice: ImageChoice): Promise<PreparedImage> {
    let image: ImageToRun;
    try {
      image = await this.images.resolve(project, service, choice);
    } catch (error) {
      if (error instanceof ImageNotOwnedError) return { status: 'failed', reason: error.message };
      throw error;
    }
    // A local image needs no pull: checking it here saves the extra pass a background job costs.
    if (!image.alwaysPull && (await this.isNamedLocally(image))) return { status: 'ready', image };
    const state = this.work.ensure(key, async () => {
      await this.images.verify(project, service, choice);
      await this.runtime.pullImage(image.reference, image.auth);
      if (!(await this.isNamedLocally(image))) throw new ImageNotNamedError(`the engine holds no image named ${image.engineName}`);
    });
    if (state.status === 'running') return { status: 'pulling' };
    this.work.forget(key);
    if (state.status === 'failed') return { status: 'failed', reason: `image ${image.reference} is not available: ${state.error.message}` };
    return { status: 'ready', image };
  }

  /** True when the runtime holds the image under its own name, not merely under an id prefix. */
  private async isNamedLocally(image: ImageToRun): Promise<boolean> {
    const names = await this.runtime.imageNames(image.reference);
    return names !== null && names.includes(image.engineName);
  }
}
