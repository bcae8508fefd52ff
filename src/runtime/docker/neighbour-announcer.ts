import { childEnvironment } from '../../process/running-process.js';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { isIPv4 } from 'node:net';
import type Docker from 'dockerode';
import { RuntimeNeighbourError } from '../../domain/errors.js';

const IP_TIMEOUT_MS = 2_000;
const BRIDGE_NAME_OPTION = 'com.docker.network.bridge.name';
const ARP_TABLE = '/proc/net/arp';

/** Sets one entry of the host's neighbour (ARP/NDP) table. */
export type SetNeighbour = (address: string, mac: string, device: string) => Promise<void>;

/** The host's IPv4 neighbour entries: the text of /proc/net/arp. */
export type ReadArpTable = () => Promise<string>;

/**
 * Tells the host's kernel the MAC address of a container just started on a local bridge
 * network (ADR 006). The engine gives a new container the lowest free address, which is
 * often that of a task that just died. A packet the host sent to that address while nobody
 * had it leaves the host's entry for it unresolved, and the kernel asks again only at its
 * next retransmit, up to 1 s later, even once the new container answers: until then the
 * prober's and nginx's connects to it wait. Setting the entry as soon as the container
 * started sends them at once. The entry is set STALE, so the kernel still confirms it.
 *
 * An IPv4 entry is set only where the host holds one with another MAC address, an
 * unresolved one included: with none, the kernel's first request finds the running
 * container at once. Reading the table costs a file read; setting an entry costs an `ip`
 * process, which on a loaded host delayed a new task's first probe by about 10 ms.
 */
export class NeighbourAnnouncer {
  /** Network id → its bridge device, or null when the network is no local bridge. */
  private readonly devices = new Map<string, string | null>();

  constructor(
    private readonly docker: Docker,
    private readonly setNeighbour: SetNeighbour = ipNeighReplace,
    private readonly readArpTable: ReadArpTable = () => readFile(ARP_TABLE, 'utf8'),
  ) {}

  async announce(containerId: string): Promise<void> {
    const info = await this.docker.getContainer(containerId).inspect();
    let held: Map<string, string> | null = null;
    for (const network of Object.values(info.NetworkSettings.Networks ?? {})) {
      if (!network.MacAddress || !network.NetworkID) continue;
      const device = await this.bridgeDevice(network.NetworkID);
      if (device === null) continue;
      const mac = network.MacAddress.toLowerCase();
      for (const address of [network.IPAddress, network.GlobalIPv6Address]) {
        if (!address) continue;
        if (isIPv4(address)) {
          held ??= arpEntries(await this.readArpTable());
          const entry = held.get(`${device} ${address}`);
          if (entry === undefined || entry === mac) continue;
        }
        await this.setNeighbour(address, network.MacAddress, device);
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

/**
 * "<device> <address>" → the MAC address held for it, lower case; an unresolved entry holds
 * 00:00:00:00:00:00. Rows: "IP address  HW type  Flags  HW address  Mask  Device".
 */
function arpEntries(table: string): Map<string, string> {
  const entries = new Map<string, string>();
  for (const line of table.split('\n').slice(1)) {
    const [address, , , mac, , device] = line.trim().split(/\s+/);
    if (address && mac && device) entries.set(`${device} ${address}`, mac.toLowerCase());
  }
  return entries;
}

function ipNeighReplace(address: string, mac: string, device: string): Promise<void> {
  const args = ['neigh', 'replace', address, 'lladdr', mac, 'dev', device, 'nud', 'stale'];
  return new Promise((resolve, reject) => {
    execFile('ip', args, { timeout: IP_TIMEOUT_MS, env: childEnvironment() }, (error, _stdout, stderr) => {
      if (error) {
        reject(new RuntimeNeighbourError(`ip ${args.join(' ')}: ${stderr.trim() || error.message}`, { cause: error }));
      } else {
        resolve();
      }
    });
  });
}
