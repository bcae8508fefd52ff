import type { ServiceDefinition } from '../domain/definition.js';
import type { RegistryAuth } from '../runtime/container-runtime.js';

export interface ImageToRun {
  readonly reference: string;
  /** Credentials for the engine's pull; null for images it can pull anonymously or has. */
  readonly auth: RegistryAuth | null;
  /** Tags in the service's repository are mutable, so they are pulled on every deployment. */
  readonly alwaysPull: boolean;
}

/** Resolves what a revision runs: its `image`, or its `container-tag` in the service's repository. */
export interface ImageSource {
  resolve(project: string, service: string, definition: ServiceDefinition): Promise<ImageToRun>;
  /** Fails with a clear reason when the image cannot exist (e.g. a tag never pushed), before any pull. */
  verify(project: string, service: string, definition: ServiceDefinition): Promise<void>;
  /** The engine's copy of an image only this service uses (its own repository's tags); null for shared images. */
  owned(project: string, service: string, definition: ServiceDefinition): string | null;
}
