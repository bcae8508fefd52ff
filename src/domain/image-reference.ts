import { ImageNotOwnedError, InvalidDefinitionError } from './errors.js';

/** An image reference taken apart as the engine reads it: `[domain/]path[:tag][@digest]`. */
export interface ImageReference {
  /** `host[:port]` of the registry, or null for Docker Hub's short forms. */
  readonly domain: string | null;
  readonly path: string;
  readonly tag: string | null;
  readonly digest: string | null;
}

// Docker's reference grammar, loosely: an optional registry (a dotted name, localhost, host:port
// or a bracketed IPv6 address with a port), lowercase path components, tag, digest.
const IMAGE_REF =
  /^(?:((?:localhost|[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)(?::\d+)?|[A-Za-z0-9-]+:\d+|\[[0-9A-Fa-f:.]+\](?::\d+)?)\/)?([a-z0-9]+(?:[._-]+[a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-]+[a-z0-9]+)*)*)(?::([A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?(?:@(sha256:[a-f0-9]{64}))?$/;
const IMAGE_ID = /^(?:sha256:)?[a-f0-9]{64}$/;
const MAX_REFERENCE = 512;

/** Parses `image`; throws InvalidDefinitionError for anything that is not a reference by name. */
export function parseImageReference(text: string): ImageReference {
  // The engine takes a bare image id too, and then runs whatever image has it, whoever it
  // belongs to: only references by name are accepted.
  if (IMAGE_ID.test(text)) {
    throw new InvalidDefinitionError(`'image' must name an image by repository and tag (or digest), not by image id`);
  }
  const match = text.length <= MAX_REFERENCE ? IMAGE_REF.exec(text) : null;
  if (!match) {
    throw new InvalidDefinitionError(`'image' must be an image reference such as 'nginx:1.25' or 'registry:5000/team/app:v2'`);
  }
  return { domain: match[1] ?? null, path: match[2] as string, tag: match[3] ?? null, digest: match[4] ?? null };
}

const HUB_DOMAINS = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);

/**
 * The names the engine lists an image under when it was pulled or tagged by this reference
 * (its RepoTags or RepoDigests): Docker Hub's `docker.io/library/` dropped, `:latest` added.
 */
export function engineNameOf(ref: ImageReference): string {
  let name = ref.domain !== null && !HUB_DOMAINS.has(ref.domain) ? `${ref.domain}/${ref.path}` : ref.path;
  if (ref.domain !== null && HUB_DOMAINS.has(ref.domain) && name.startsWith('library/')) name = name.slice('library/'.length);
  return ref.digest !== null ? `${name}@${ref.digest}` : `${name}:${ref.tag ?? 'latest'}`;
}

/**
 * berth's own registry as the engine may reach it: the addresses (`host:port`) that name it.
 * Supplied by the registry adapter; the rule below needs only the answer.
 */
export interface OwnRegistry {
  /** True when `domain` (`host[:port]`) reaches berth's registry, whatever its spelling. */
  names(domain: string): boolean;
}

/**
 * An image on berth's own registry may be run only by the project whose repository holds it
 * (`<registry>/<project>/<service>`): by tag or by digest, under any spelling of the
 * registry's address, and whether or not the engine already has the image. Returns the
 * repository path for such an image, null for an image from anywhere else.
 */
export function ownedRepository(project: string, ref: ImageReference, registry: OwnRegistry | null): string | null {
  if (ref.domain === null || registry === null || !registry.names(ref.domain)) return null;
  const owner = ref.path.split('/')[0];
  if (owner !== project) throw new ImageNotOwnedError(`${ref.domain}/${ref.path}`);
  return ref.path;
}
