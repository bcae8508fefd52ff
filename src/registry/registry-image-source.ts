import { engineNameOf, ownedRepository, parseImageReference, type ImageReference } from '../domain/image-reference.js';
import type { ImageChoice, ImageSource, ImageToRun } from '../reconciler/image-source.js';
import { ImageTagNotFoundError } from './errors.js';
import type { RegistryService } from './registry-service.js';
import { repositoryName } from './repository-name.js';

/**
 * Resolves a definition to an image: `container-tag` in the service's own repository, or
 * `image`. An `image` in one of the project's repositories on berth's registry (under any
 * spelling of its address) is pulled from there like a tag, with a pull-only ticket, because
 * tags move; one in another project's repository is refused. Any other `image` runs as given,
 * pulled only when the engine lacks it.
 */
export class RegistryImageSource implements ImageSource {
  constructor(private readonly registry: RegistryService) {}

  async resolve(project: string, service: string, definition: ImageChoice): Promise<ImageToRun> {
    const own = this.ownImage(project, service, definition);
    if (own !== null) {
      const ref: ImageReference = { domain: this.registry.address, path: own.repository, tag: own.tag, digest: own.digest };
      const reference = engineNameOf(ref);
      return { reference, engineName: reference, auth: this.registry.pullAuth(own.repository), alwaysPull: own.digest === null };
    }
    const image = definition.image as string;
    return { reference: image, engineName: engineNameOf(parseImageReference(image)), auth: null, alwaysPull: false };
  }

  owned(project: string, service: string, definition: ImageChoice): string | null {
    if (definition.image !== null) return null;
    return `${this.registry.repositoryUri(project, service)}:${definition.containerTag ?? 'latest'}`;
  }

  async verify(project: string, service: string, definition: ImageChoice): Promise<void> {
    const own = this.ownImage(project, service, definition);
    if (own === null || own.tag === null) return;
    if (!(await this.registry.tagExists(own.repository, own.tag))) {
      throw new ImageTagNotFoundError(own.tag, `${this.registry.address}/${own.repository}`);
    }
  }

  /** The repository, tag and digest on berth's registry, or null for an image from elsewhere. */
  private ownImage(
    project: string,
    service: string,
    definition: ImageChoice,
  ): { repository: string; tag: string | null; digest: string | null } | null {
    if (definition.image === null) {
      return { repository: repositoryName(project, service), tag: definition.containerTag ?? 'latest', digest: null };
    }
    const ref = parseImageReference(definition.image);
    const repository = ownedRepository(project, ref, this.registry.names());
    if (repository === null) return null;
    return { repository, tag: ref.digest === null ? (ref.tag ?? 'latest') : null, digest: ref.digest };
  }
}
