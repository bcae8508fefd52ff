import type { ServiceDefinition } from '../domain/definition.js';
import type { RegistryAuth } from '../runtime/task-runtime.js';

/** What a revision or a job names to run: `image`, or `containerTag` in the service's own repository. */
export type ImageChoice = Pick<ServiceDefinition, 'image' | 'containerTag'>;

export interface ImageToRun {
  readonly reference: string;
  /**
   * The name the engine must list the image under (a RepoTag or RepoDigest) for it to count
   * as this reference: an engine resolves a name it does not hold as an image id prefix,
   * which would run whatever image has that id, whoever owns it.
   */
  readonly engineName: string;
  /** Credentials for the engine's pull; null for images it can pull anonymously or has. */
  readonly auth: RegistryAuth | null;
  /** Tags in berth's registry are mutable, so they are pulled on every deployment. */
  readonly alwaysPull: boolean;
}

/** Resolves what a revision runs: its `image`, or its `container-tag` in the service's own repository. */
export interface ImageSource {
  /**
   * Throws ImageNotOwnedError for an image in another project's repository on berth's
   * registry, also for a revision stored before that rule.
   */
  resolve(project: string, service: string, choice: ImageChoice): Promise<ImageToRun>;
  /** Fails with a clear reason when the image cannot exist (e.g. a tag never pushed), before any pull. */
  verify(project: string, service: string, choice: ImageChoice): Promise<void>;
  /** The engine's copy of an image only this service uses (its own repository's tags); null for shared images. */
  owned(project: string, service: string, choice: ImageChoice): string | null;
}
