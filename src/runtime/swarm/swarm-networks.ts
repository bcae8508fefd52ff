import type Docker from 'dockerode';
import type { NetworkSpec } from '../task-runtime.js';
import { engineCall, statusOf, wrapEngineError } from '../docker/engine-errors.js';
import { SingleFlight } from '../docker/single-flight.js';
import { labelFilters } from '../docker/tasks.js';
import { swarmName } from './service-spec.js';

/**
 * A project's or a stack's network on Swarm: an overlay, so that its tasks reach each other
 * on every node, and attachable, so that a plain container (a job run by hand, a test) may
 * join it. Swarm's address pool gives its subnet; its name is berth's made a DNS label.
 */
export class SwarmNetworks {
  /** The engine creates two networks of one name when asked at once. */
  private readonly making = new SingleFlight();

  constructor(private readonly docker: Docker) {}

  ensure(spec: NetworkSpec): Promise<void> {
    return this.making.run(spec.name, () => this.make(spec));
  }

  async remove(labels: Readonly<Record<string, string>>): Promise<string[]> {
    const networks = await engineCall('list networks', () => this.docker.listNetworks({ filters: { label: labelFilters(labels) } }));
    const inUse: string[] = [];
    for (const network of networks) {
      try {
        await this.docker.getNetwork(network.Id).remove();
      } catch (error) {
        const status = statusOf(error);
        if (status === 404) continue;
        // A service still names it: it stays for that service.
        if (status === 403 || status === 409 || status === 500) inUse.push(network.Name);
        else throw error;
      }
    }
    return inUse;
  }

  private async make(spec: NetworkSpec): Promise<void> {
    const name = swarmName(spec.name);
    const found = await engineCall('list networks', () => this.docker.listNetworks({ filters: { name: [name] } }));
    if (found.some((n) => n.Name === name)) return;
    try {
      await this.docker.createNetwork({ Name: name, Driver: 'overlay', Attachable: true, CheckDuplicate: true, Labels: { ...spec.labels } });
    } catch (error) {
      // Made meanwhile by another pass or server.
      if (statusOf(error) !== 409) throw wrapEngineError(`create network ${spec.name}`, error);
    }
  }
}
