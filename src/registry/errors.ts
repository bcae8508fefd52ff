import { BerthError } from '../domain/errors.js';

/**
 * Basic credentials at the token endpoint were missing, wrong, expired or
 * revoked. One error for all four on purpose: telling them apart would help
 * whoever guesses credentials.
 */
export class RegistryCredentialsInvalidError extends BerthError {
  readonly code = 'BERTH_REGISTRY_CREDENTIALS_INVALID';
  readonly status = 401;
  constructor() {
    super('Invalid registry credentials');
  }
}

/** The token endpoint was asked for a token for another registry than ours. */
export class RegistryUnknownServiceError extends BerthError {
  readonly code = 'BERTH_REGISTRY_UNKNOWN_SERVICE';
  readonly status = 400;
  constructor(service: string) {
    super(`Unknown registry service '${service}'`);
  }
}

/**
 * A project/service pair that Distribution would reject as a repository name
 * (project names allow '_' and '-' in places a repository path does not).
 */
export class InvalidRepositoryNameError extends BerthError {
  readonly code = 'BERTH_INVALID_REPOSITORY_NAME';
  readonly status = 400;
  constructor(name: string) {
    super(`'${name}' is not a valid registry repository name`);
  }
}

/** The registry process could not be started, answered unexpectedly, or could not be reached. */
export class RegistryUnavailableError extends BerthError {
  readonly code = 'BERTH_REGISTRY_UNAVAILABLE';
  readonly status = 503;
}

/** The signing key or certificate under the data dir could not be created or read. */
export class RegistryKeyError extends BerthError {
  readonly code = 'BERTH_REGISTRY_KEY';
  readonly status = 500;
}

/** A definition names a `container-tag` that was never pushed to the service's repository. */
export class ImageTagNotFoundError extends BerthError {
  readonly code = 'BERTH_IMAGE_TAG_NOT_FOUND';
  readonly status = 400;
  constructor(tag: string, repository: string) {
    super(`tag '${tag}' does not exist in ${repository}; push it first (berth push, or docker push ${repository}:${tag})`);
  }
}
