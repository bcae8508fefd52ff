import { printable } from '../domain/names.js';
import { InvalidRepositoryNameError } from './errors.js';

/** One path component of a Distribution repository name (reference grammar, Distribution 2.8). */
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*$/;

/**
 * The repository a service's images live in: `<project>/<service>`. Service
 * names always fit the grammar; project names may not (a trailing '-' or '_',
 * or '_' next to '-'), and such a project cannot have a repository.
 */
export function repositoryName(project: string, service: string): string {
  const name = repositoryNameOrNull(project, service);
  if (name === null) throw new InvalidRepositoryNameError(printable(`${project}/${service}`));
  return name;
}

/** Null for a pair that cannot have a repository, and so never had one to delete. */
export function repositoryNameOrNull(project: string, service: string): string | null {
  return PATH_COMPONENT.test(project) && PATH_COMPONENT.test(service) ? `${project}/${service}` : null;
}
