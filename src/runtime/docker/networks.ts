import type Docker from 'dockerode';
import { RuntimeUnavailableError } from '../../domain/errors.js';
import type { NetworkSpec } from '../task-runtime.js';
import { SingleFlight } from './single-flight.js';
import { formatCidr, freeSubnets, parseCidr, type Range } from './subnets.js';

interface EngineError {
  statusCode?: number;
  message?: string;
}

/** Subnets tried before giving up: another server may take the one chosen between the list and the create. */
const CREATE_ATTEMPTS = 8;

/**
 * The engine's networks, in berth's terms. Each network gets a /22 of berth's own pool: the
 * engine's default pools hold about 30 bridge networks, and a server with a network a project
 * would stop making new ones past its thirtieth project; a /24 would hold 253 tasks, which the
 * scale bench's 300 services of one project outgrew.
 */
export class DockerNetworks {
  /** Makings under way, by name: the engine creates two networks of one name when asked at once. */
  private readonly making = new SingleFlight();

  constructor(
    private readonly docker: Docker,
    private readonly pool: Range,
  ) {}

  /** One making per name at a time; callers who ask meanwhile wait for it. */
  ensure(spec: NetworkSpec): Promise<void> {
    return this.making.run(spec.name, () => this.make(spec));
  }

  private async make(spec: NetworkSpec): Promise<void> {
    if (await this.exists(spec.name)) return;
    let lastError: unknown;
    const tried: Range[] = [];
    for (let attempt = 0; attempt < CREATE_ATTEMPTS; attempt++) {
      const subnet = freeSubnets(this.pool, [...(await this.taken()), ...tried]).next().value;
      if (!subnet) throw new RuntimeUnavailableError(`no /22 of ${formatCidr(this.pool)} is free for network ${spec.name}; widen --network-pool`);
      try {
        await this.docker.createNetwork({
          Name: spec.name,
          Driver: 'bridge',
          CheckDuplicate: true,
          Labels: { ...spec.labels },
          IPAM: { Driver: 'default', Config: [{ Subnet: formatCidr(subnet) }] },
        });
        return;
      } catch (error) {
        // Made meanwhile by another pass or server: it is there, which is all that was asked.
        if ((error as EngineError).statusCode === 409 || (await this.exists(spec.name))) return;
        lastError = error;
        tried.push(subnet);
      }
    }
    throw new RuntimeUnavailableError(`the engine refused every subnet offered for network ${spec.name}`, { cause: lastError });
  }

  async remove(labels: Readonly<Record<string, string>>): Promise<string[]> {
    const networks = await this.docker.listNetworks({ filters: { label: Object.entries(labels).map(([k, v]) => `${k}=${v}`) } });
    const inUse: string[] = [];
    for (const network of networks) {
      try {
        await this.docker.getNetwork(network.Id).remove();
      } catch (error) {
        const status = (error as EngineError).statusCode;
        if (status === 404) continue;
        // 403: containers are still attached; the network stays for them.
        if (status === 403) inUse.push(network.Name);
        else throw error;
      }
    }
    return inUse;
  }

  /**
   * Whether a network of that name exists. Two of one name (made at once by an older berth, or by
   * hand) make the engine refuse every container that names it: the ones without tasks go.
   */
  private async exists(name: string): Promise<boolean> {
    const found = (await this.docker.listNetworks({ filters: { name: [name] } })).filter((n) => n.Name === name);
    if (found.length <= 1) return found.length === 1;
    const [keep, ...extra] = [...found].sort((a, b) => Date.parse(a.Created) - Date.parse(b.Created));
    for (const network of extra) {
      try {
        await this.docker.getNetwork(network.Id).remove();
      } catch (error) {
        if ((error as EngineError).statusCode !== 404 && (error as EngineError).statusCode !== 403) throw error;
      }
    }
    return keep !== undefined;
  }

  private async taken(): Promise<Range[]> {
    const networks = await this.docker.listNetworks();
    return networks.flatMap((n) => (n.IPAM?.Config ?? []).map((c) => parseCidr(c.Subnet ?? '')).filter((r): r is Range => r !== null));
  }
}
