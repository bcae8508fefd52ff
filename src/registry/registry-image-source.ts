import type { ServiceDefinition } from '../domain/definition.js';
import type { ImageSource, ImageToRun } from '../reconciler/image-source.js';
import { ImageTagNotFoundError } from './errors.js';
import type { RegistryService } from './registry-service.js';

/**
 * Resolves a definition to an image: `image` as given (pulled only when the
 * engine lacks it), or `container-tag` in the service's own repository,
 * pulled on every deployment with a pull-only ticket because tags move.
 */
export class RegistryImageSource implements ImageSource {
  constructor(private readonly registry: RegistryService) {}

  async resolve(project: string, service: string, definition: ServiceDefinition): Promise<ImageToRun> {
    if (definition.image !== null) return { reference: definition.image, auth: null, alwaysPull: false };
    return {
      reference: `${this.registry.repositoryUri(project, service)}:${definition.containerTag ?? 'latest'}`,
      auth: this.registry.pullAuth(project, service),
      alwaysPull: true,
    };
  }

  owned(project: string, service: string, definition: ServiceDefinition): string | null {
    if (definition.image !== null) return null;
    return `${this.registry.repositoryUri(project, service)}:${definition.containerTag ?? 'latest'}`;
  }

  async verify(project: string, service: string, definition: ServiceDefinition): Promise<void> {
    if (definition.image !== null) return;
    const tag = definition.containerTag ?? 'latest';
    if (!(await this.registry.tagExists(project, service, tag))) {
      throw new ImageTagNotFoundError(tag, this.registry.repositoryUri(project, service));
    }
  }
}
