import { execFile } from 'node:child_process';
import type Docker from 'dockerode';
import { RuntimeNeighbourError } from '../../domain/errors.js';

const IP_TIMEOUT_MS = 2_000;
const BRIDGE_NAME_OPTION = 'com.docker.network.bridge.name';

/** Sets one entry of the host's neighbour (ARP/NDP) table. */
export type SetNeighbour = (address: string, mac: string, device: string) => Promise<void>;

/**
 * Tells the host's kernel the MAC address of a container just started on a local bridge
 * network (ADR 006). The engine gives a new container the lowest free address, which is
 * often that of a task that just died. A packet the host sent to that address while nobody
 * had it leaves the host's entry for it unresolved, and the kernel asks again only at its
 * next retransmit, up to 1 s later, even once the new container answers: until then the
 * prober's and nginx's connects to it wait. Setting the entry as soon as the container
 * started sends them at once. The entry is set STALE, so the kernel still confirms it.
 */
export class NeighbourAnnouncer {
  /** Network id → its bridge device, or null when the network is no local bridge. */
  private readonly devices = new Map<string, string | null>();

  constructor(
    private readonly docker: Docker,
    private readonly setNeighbour: SetNeighbour = ipNeighReplace,
  ) {}

  async announce(containerId: string): Promise<void> {
    const info = await this.docker.getContainer(containerId).inspect();
    for (const network of Object.values(info.NetworkSettings.Networks ?? {})) {
      if (!network.MacAddress || !network.NetworkID) continue;
      const device = await this.bridgeDevice(network.NetworkID);
      if (device === null) continue;
      for (const address of [network.IPAddress, network.GlobalIPv6Address]) {
        if (address) await this.setNeighbour(address, network.MacAddress, device);
      }
    }
  }

  private async bridgeDevice(networkId: string): Promise<string | null> {
    const known = this.devices.get(networkId);
    if (known !== undefined) return known;
    const network = (await this.docker.getNetwork(networkId).inspect()) as {
      Id: string;
      Driver: string;
      Options?: Record<string, string>;
    };
    // The engine names a bridge it creates for a user-defined network after the network's id.
    const device =
      network.Driver === 'bridge' ? (network.Options?.[BRIDGE_NAME_OPTION] ?? `br-${network.Id.slice(0, 12)}`) : null;
    this.devices.set(networkId, device);
    return device;
  }
}

function ipNeighReplace(address: string, mac: string, device: string): Promise<void> {
  const args = ['neigh', 'replace', address, 'lladdr', mac, 'dev', device, 'nud', 'stale'];
  return new Promise((resolve, reject) => {
    execFile('ip', args, { timeout: IP_TIMEOUT_MS }, (error, _stdout, stderr) => {
      if (error) {
        reject(new RuntimeNeighbourError(`ip ${args.join(' ')}: ${stderr.trim() || error.message}`, { cause: error }));
      } else {
        resolve();
      }
    });
  });
}
