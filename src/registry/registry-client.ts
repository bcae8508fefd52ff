import { RegistryUnavailableError } from './errors.js';
import type { ResourceAccess, TokenService } from './token-service.js';

/**
 * Every manifest type berth may find. Without them in Accept, Distribution
 * 2.8 answers a schema2 manifest converted to schema1, whose digest differs
 * from the stored one, and a DELETE by that digest misses.
 */
const MANIFEST_ACCEPT = [
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
].join(', ');

const DEFAULT_TIMEOUT_MS = 10_000;
const TAGS_PAGE_SIZE = 1000;

export interface RegistryClientOptions {
  /** e.g. "http://127.0.0.1:5000". */
  readonly baseUrl: string;
  readonly tokens: TokenService;
  /** Per request. */
  readonly timeoutMs?: number;
}

/** berth's own calls to the registry's HTTP API, each with a short-lived internal token. */
export class RegistryClient {
  private readonly timeoutMs: number;

  constructor(private readonly options: RegistryClientOptions) {
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  /** All tags of `repository`; empty when it has none or does not exist. */
  async listTags(repository: string): Promise<string[]> {
    const tags: string[] = [];
    let path: string | null = `/v2/${repository}/tags/list?n=${TAGS_PAGE_SIZE}`;
    while (path !== null) {
      const response = await this.request('GET', path, repository, ['pull']);
      if (response.status === 404) {
        await discard(response);
        return tags;
      }
      await expectStatus(response, [200], `list tags of ${repository}`);
      const body = (await response.json()) as { tags?: string[] | null };
      tags.push(...(body.tags ?? []));
      path = nextPage(response.headers.get('link'));
    }
    return tags;
  }

  async tagExists(repository: string, tag: string): Promise<boolean> {
    return (await this.manifestDigest(repository, tag)) !== null;
  }

  /** The digest `reference` (a tag or digest) resolves to; null when there is no such manifest. */
  async manifestDigest(repository: string, reference: string): Promise<string | null> {
    const path = `/v2/${repository}/manifests/${encodeURIComponent(reference)}`;
    const response = await this.request('HEAD', path, repository, ['pull'], { Accept: MANIFEST_ACCEPT });
    if (response.status === 404) return null;
    await expectStatus(response, [200], `look up ${repository}:${reference}`);
    const digest = response.headers.get('docker-content-digest');
    if (!digest) throw new RegistryUnavailableError(`The registry sent no digest for ${repository}:${reference}`);
    return digest;
  }

  /**
   * Deletes every tagged manifest of `repository`, which untags them too;
   * the blobs stay until garbage collection. Returns how many were deleted.
   */
  async deleteManifests(repository: string): Promise<number> {
    const digests = new Set<string>();
    for (const tag of await this.listTags(repository)) {
      const digest = await this.manifestDigest(repository, tag);
      if (digest) digests.add(digest);
    }
    let deleted = 0;
    for (const digest of digests) {
      const response = await this.request('DELETE', `/v2/${repository}/manifests/${digest}`, repository, ['delete']);
      // 404: already gone (several tags may share a digest, or a concurrent delete won).
      if (response.status === 404) {
        await discard(response);
        continue;
      }
      await expectStatus(response, [202], `delete ${repository}@${digest}`);
      await discard(response);
      deleted += 1;
    }
    return deleted;
  }

  private async request(
    method: string,
    path: string,
    repository: string,
    actions: readonly string[],
    headers: Record<string, string> = {},
  ): Promise<Response> {
    const access: ResourceAccess[] = [{ type: 'repository', name: repository, actions }];
    const url = new URL(path, this.options.baseUrl);
    try {
      return await fetch(url, {
        method,
        headers: { ...headers, Authorization: `Bearer ${this.options.tokens.mintInternal(access)}` },
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      throw new RegistryUnavailableError(`Cannot reach the registry at ${url.origin}`, { cause: error });
    }
  }
}

async function expectStatus(response: Response, expected: readonly number[], what: string): Promise<void> {
  if (expected.includes(response.status)) return;
  const body = (await response.text()).slice(0, 300);
  throw new RegistryUnavailableError(`Registry refused to ${what}: HTTP ${response.status} ${body}`);
}

/** An unread body keeps its connection from going back to the pool. */
async function discard(response: Response): Promise<void> {
  await response.body?.cancel();
}

/** Distribution paginates with an RFC 5988 `Link: <…>; rel="next"` header. */
function nextPage(link: string | null): string | null {
  const match = link === null ? null : /<([^>]+)>\s*;\s*rel="?next"?/.exec(link);
  return match?.[1] ?? null;
}
