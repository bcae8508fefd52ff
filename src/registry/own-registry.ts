import { hostname, networkInterfaces } from 'node:os';
import { isIP } from 'node:net';
import type { OwnRegistry } from '../domain/image-reference.js';

/**
 * Every spelling of berth's registry address the engine could pull from: the address
 * berth gives out, `localhost`, any loopback or wildcard address, this machine's name and
 * any address of its interfaces, each with the registry's port. The engine keeps an image
 * under the spelling it was pulled by, and an anonymous pull under another spelling is
 * refused by the token server; the rule refuses them all the same, so that whether a
 * reference works never depends on what the engine happens to hold.
 */
export class LocalRegistryNames implements OwnRegistry {
  private readonly publicHost: string;
  private readonly port: number;

  constructor(publicAddress: string) {
    const { host, port } = split(publicAddress);
    this.publicHost = host;
    this.port = port ?? 443;
  }

  names(domain: string): boolean {
    const { host, port } = split(domain);
    if ((port ?? 443) !== this.port) return false;
    if (host === this.publicHost || host === 'localhost' || host === hostname().toLowerCase()) return true;
    if (isIP(host) === 0) return false;
    if (host.startsWith('127.') || host === '::1' || host === '0.0.0.0' || host === '::') return true;
    return Object.values(networkInterfaces()).some((addresses) => addresses?.some((a) => a.address.toLowerCase() === host));
  }
}

function split(domain: string): { host: string; port: number | null } {
  const match = /^(?:\[([^\]]+)\]|([^:]+))(?::(\d+))?$/.exec(domain.toLowerCase());
  if (!match) return { host: domain.toLowerCase(), port: null };
  return { host: (match[1] ?? match[2]) as string, port: match[3] === undefined ? null : Number(match[3]) };
}
