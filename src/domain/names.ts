import { InvalidProjectNameError, InvalidServiceNameError } from './errors.js';

/** `<project>-<service>` together may not be longer than this (servicectl's rule). */
export const MAX_QUALIFIED_NAME_LENGTH = 32;

const SERVICE_NAME = /^[a-z](?:[a-z0-9-]*[a-z0-9])?$/;
// Also a valid path component of a registry repository: separators ('_', '__', '-'…) sit between letters or digits.
const PROJECT_NAME = /^[a-z][a-z0-9]*(?:(?:_|__|-+)[a-z0-9]+)*$/;

export function assertProjectName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || name.length === 0) {
    throw new InvalidProjectNameError('Project name must be a non-empty string');
  }
  if (!PROJECT_NAME.test(name)) {
    throw new InvalidProjectNameError(
      `Invalid project name '${printable(name)}': start with a-z, use only a-z, 0-9, '_' and '-', end with a letter or digit, and put at most two '_' together`,
    );
  }
  // The shortest service name is one letter, joined with '-'.
  if (name.length > MAX_QUALIFIED_NAME_LENGTH - 2) {
    throw new InvalidProjectNameError(
      `Invalid project name '${name}': at most ${MAX_QUALIFIED_NAME_LENGTH - 2} characters`,
    );
  }
}

export function assertServiceName(project: string, name: unknown): asserts name is string {
  if (typeof name !== 'string' || name.length === 0) {
    throw new InvalidServiceNameError('Service name must be a non-empty string');
  }
  if (!SERVICE_NAME.test(name)) {
    throw new InvalidServiceNameError(
      `Invalid service name '${printable(name)}': begin with a-z, use only a-z, 0-9 and '-', end with a letter or digit`,
    );
  }
  const qualified = qualifiedName(project, name);
  if (qualified.length > MAX_QUALIFIED_NAME_LENGTH) {
    throw new InvalidServiceNameError(
      `Invalid service name '${name}': '${qualified}' is ${qualified.length} characters, at most ${MAX_QUALIFIED_NAME_LENGTH} are allowed including the project prefix`,
    );
  }
}

/** The path prefix a service is served under, and its CONTEXT_ROOT. */
export function contextRoot(project: string, service: string): string {
  return `/${qualifiedName(project, service)}`;
}

export function qualifiedName(project: string, service: string): string {
  return `${project}-${service}`;
}

/** Echoing attacker-chosen text into errors is fine, but not control characters or megabytes of it. */
export function printable(text: string): string {
  const clean = text.replace(/[^\x20-\x7e]/g, '?');
  return clean.length > 64 ? `${clean.slice(0, 64)}…` : clean;
}
