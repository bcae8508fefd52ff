/** What the registry's config.yml is made of; everything else in it is fixed policy. */
export interface RegistryConfigInput {
  /** `http.addr`, e.g. "127.0.0.1:5000". */
  readonly listen: string;
  readonly storageDir: string;
  /** Where clients fetch tokens: `<API base URL>/registry/token`. */
  readonly realm: string;
  /** The token audience; must equal the token service's `service`. */
  readonly service: string;
  readonly issuer: string;
  /** PEM certificate whose key signs the tokens. */
  readonly rootCertBundle: string;
}

/**
 * Renders Distribution 2.8's config.yml. Pure, so the caller can compare the
 * result with the file on disk and restart an adopted registry only when the
 * configuration really changed. Strings are written as JSON, which YAML reads
 * as double-quoted scalars, so paths with spaces or colons stay intact.
 */
export function renderRegistryConfig(input: RegistryConfigInput): string {
  const q = (value: string): string => JSON.stringify(value);
  return [
    'version: 0.1',
    'log:',
    '  level: info',
    '  formatter: text',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${q(input.storageDir)}`,
    // Manifests are deleted through the API when a service is deleted; blobs by garbage collection.
    '  delete:',
    '    enabled: true',
    // Blobs are served by the registry itself; the filesystem driver has nothing to redirect to anyway.
    '  redirect:',
    '    disable: true',
    // No blob descriptor cache: after garbage collection it would remember deleted blobs.
    'http:',
    `  addr: ${q(input.listen)}`,
    '  headers:',
    '    X-Content-Type-Options: [nosniff]',
    'auth:',
    '  token:',
    `    realm: ${q(input.realm)}`,
    `    service: ${q(input.service)}`,
    `    issuer: ${q(input.issuer)}`,
    `    rootcertbundle: ${q(input.rootCertBundle)}`,
    'health:',
    '  storagedriver:',
    '    enabled: true',
    '    interval: 10s',
    '    threshold: 3',
    '',
  ].join('\n');
}
