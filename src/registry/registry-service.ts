import { join } from 'node:path';
import type { OwnRegistry } from '../domain/image-reference.js';
import { systemClock, type Clock } from '../domain/model.js';
import type { Db } from '../store/database.js';
import { CredentialStore, DEFAULT_CREDENTIAL_TTL_MS } from './credential-store.js';
import { loadOrCreateSigningKey } from './keys.js';
import { connectAddress, formatListen, type ListenAddress } from '../net/listen-address.js';
import { LocalRegistryNames } from './own-registry.js';
import { PULL_TICKET_USER, PullTickets } from './pull-tickets.js';
import { RegistryClient } from './registry-client.js';
import { RegistryProcess } from './registry-process.js';
import { repositoryName, repositoryNameOrNull } from './repository-name.js';
import { REGISTRY_TOKEN_PATH, type RegistryTokenRoutesOptions } from './routes.js';
import { TokenService, type Principal } from './token-service.js';

/** The token audience and issuer; only berth and its own registry ever see them. */
const REGISTRY_SERVICE = 'berth-registry';
const TOKEN_ISSUER = 'berth';

export interface RegistryServiceOptions {
  readonly db: Db;
  /** The server's --data-dir; the registry keeps everything under `<dataDir>/registry`. */
  readonly dataDir: string;
  /** --registry-listen. */
  readonly listen: ListenAddress;
  /** host:port users push to and the engine pulls from; defaults to the listen address (wildcard → 127.0.0.1). */
  readonly publicAddress?: string;
  /** The berth API's base URL as the Docker engine reaches it, e.g. "http://127.0.0.1:7070". */
  readonly apiBaseUrl: string;
  readonly clock?: Clock;
  readonly credentialTtlMs?: number;
  /** The Distribution binary; Debian installs it as `docker-registry`. */
  readonly command?: string;
}

/** What `GET /services/<name>?view=docker` answers (servicectl's field names). */
export interface DockerCredentials {
  readonly repo_uri: string;
  readonly proxy_endpoint: string;
  readonly user: string;
  readonly password: string;
}

/** Docker Engine API `X-Registry-Auth` content for pulling one service's image. */
export interface PullAuth {
  readonly username: string;
  readonly password: string;
  readonly serveraddress: string;
}

/**
 * The registry as the rest of berth sees it: per-service push credentials,
 * pull auth for deployments, repository deletion, and the token endpoint's
 * options. Build it with `create`, then `start` it.
 */
export class RegistryService {
  /** Pass to `app.register(registryTokenRoutes, registry.tokenRoutes)`. */
  readonly tokenRoutes: RegistryTokenRoutesOptions;
  /** host:port of the registry as users and the engine address it. */
  readonly address: string;
  private readonly ownNames: OwnRegistry;

  private constructor(
    private readonly credentials: CredentialStore,
    private readonly tickets: PullTickets,
    private readonly client: RegistryClient,
    private readonly registry: RegistryProcess,
    private readonly credentialTtlMs: number,
    tokens: TokenService,
    address: string,
  ) {
    this.address = address;
    this.ownNames = new LocalRegistryNames(address);
    this.tokenRoutes = { tokens, authenticate: (user, password) => this.authenticate(user, password) };
  }

  /** Loads (or at first start creates) the token signing key; does not start the registry. */
  static async create(options: RegistryServiceOptions): Promise<RegistryService> {
    const clock = options.clock ?? systemClock;
    const registryDir = join(options.dataDir, 'registry');
    const key = await loadOrCreateSigningKey(registryDir);
    const tokens = new TokenService({ key, issuer: TOKEN_ISSUER, service: REGISTRY_SERVICE, clock });
    const local = connectAddress(options.listen);
    const registry = new RegistryProcess({
      registryDir,
      command: options.command,
      localAddress: local,
      config: {
        listen: formatListen(options.listen),
        storageDir: join(registryDir, 'storage'),
        realm: `${options.apiBaseUrl.replace(/\/+$/, '')}${REGISTRY_TOKEN_PATH}`,
        service: REGISTRY_SERVICE,
        issuer: TOKEN_ISSUER,
        rootCertBundle: key.certFile,
      },
    });
    return new RegistryService(
      new CredentialStore(options.db, clock),
      new PullTickets(clock),
      new RegistryClient({ baseUrl: `http://${local}`, tokens }),
      registry,
      options.credentialTtlMs ?? DEFAULT_CREDENTIAL_TTL_MS,
      tokens,
      options.publicAddress ?? local,
    );
  }

  /** Adopts the running registry or starts one; resolves when it answers. */
  start(): Promise<void> {
    return this.registry.start();
  }

  /** Leaves the registry running for the next server to adopt. */
  detach(): Promise<void> {
    return this.registry.detach();
  }

  stop(): Promise<void> {
    return this.registry.stop();
  }

  /** The registry's pid while berth supervises it. */
  pid(): number | null {
    return this.registry.pid();
  }

  repositoryUri(project: string, service: string): string {
    return `${this.address}/${repositoryName(project, service)}`;
  }

  /** The registry's address under every spelling the engine could pull from. */
  names(): OwnRegistry {
    return this.ownNames;
  }

  /** New push/pull credentials for the service's repository; earlier ones stay valid until they expire. */
  credentialsFor(project: string, service: string, serviceId: number): DockerCredentials {
    const repoUri = this.repositoryUri(project, service);
    const issued = this.credentials.issue(serviceId, this.credentialTtlMs);
    return { repo_uri: repoUri, proxy_endpoint: this.address, user: issued.user, password: issued.password };
  }

  /** Pull-only auth for one repository (`<project>/<service>`); mint one right before each pull. */
  pullAuth(repository: string): PullAuth {
    return { username: PULL_TICKET_USER, password: this.tickets.mint(repository), serveraddress: this.address };
  }

  tagExists(repository: string, tag: string): Promise<boolean> {
    return this.client.tagExists(repository, tag);
  }

  listTags(project: string, service: string): Promise<string[]> {
    return this.client.listTags(repositoryName(project, service));
  }

  /**
   * Revokes the service's credentials, deletes its manifests, and garbage
   * collects their blobs. The collection stops the registry for a few
   * seconds, so it runs only when there were manifests to delete; deletions
   * arriving meanwhile share the next collection. Idempotent: a retry after a
   * crash finds nothing left to delete (leftover blobs go at the next collection).
   */
  async deleteRepository(project: string, service: string, serviceId: number): Promise<void> {
    this.credentials.revokeAll(serviceId);
    const repository = repositoryNameOrNull(project, service);
    if (repository === null) return;
    const deleted = await this.registry.exclusive(() => this.client.deleteManifests(repository));
    // Asked for only now, so the collection surely starts after the manifests are gone.
    if (deleted > 0) await this.registry.garbageCollect();
  }

  /** Ends every credential of the service. Tokens already issued live on for their few minutes. */
  revoke(serviceId: number): number {
    return this.credentials.revokeAll(serviceId);
  }

  private authenticate(user: string, password: string): Principal | null {
    if (user === PULL_TICKET_USER) {
      const repository = this.tickets.verify(password);
      if (repository === null) return null;
      return { subject: user, allowed: [{ type: 'repository', name: repository, actions: ['pull'] }] };
    }
    const owner = this.credentials.verify(user, password);
    if (owner === null) return null;
    const name = repositoryName(owner.project, owner.service);
    return { subject: user, allowed: [{ type: 'repository', name, actions: ['pull', 'push'] }] };
  }
}
