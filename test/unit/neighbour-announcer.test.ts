import type Docker from 'dockerode';
import { describe, expect, it } from 'vitest';
import { NeighbourAnnouncer } from '../../src/runtime/docker/neighbour-announcer.js';

interface FakeNetwork {
  readonly Driver: string;
  readonly Options?: Record<string, string>;
}

/** Just the two engine calls the announcer makes, counting network inspects. */
function fakeEngine(containerNetworks: Record<string, object>, networks: Record<string, FakeNetwork>) {
  const networkInspects: string[] = [];
  const docker = {
    getContainer: () => ({ inspect: async () => ({ NetworkSettings: { Networks: containerNetworks } }) }),
    getNetwork: (id: string) => ({
      inspect: async () => {
        networkInspects.push(id);
        return { Id: id, ...networks[id] };
      },
    }),
  } as unknown as Docker;
  return { docker, networkInspects };
}

const ARP_HEADER = 'IP address       HW type     Flags       HW address            Mask     Device';

/** /proc/net/arp with these rows: [address, mac, device]. */
function arpTable(...rows: [string, string, string][]): () => Promise<string> {
  const lines = rows.map(([address, mac, device]) => `${address.padEnd(17)}0x1         ${mac.startsWith('00:00') ? '0x0' : '0x2'}         ${mac}     *        ${device}`);
  return async () => [ARP_HEADER, ...lines, ''].join('\n');
}

const UNRESOLVED = '00:00:00:00:00:00';

describe('NeighbourAnnouncer', () => {
  it("sets the entry of each address of the container on each bridge it is on, with the bridge's device", async () => {
    const userNetwork = 'f00dfeedbeef0123456789';
    const { docker } = fakeEngine(
      {
        bridge: { NetworkID: 'default', IPAddress: '172.17.0.5', GlobalIPv6Address: '', MacAddress: '02:42:ac:11:00:05' },
        mine: { NetworkID: userNetwork, IPAddress: '10.9.0.2', GlobalIPv6Address: 'fd00::2', MacAddress: '02:42:0a:09:00:02' },
      },
      {
        default: { Driver: 'bridge', Options: { 'com.docker.network.bridge.name': 'docker0' } },
        [userNetwork]: { Driver: 'bridge', Options: {} },
      },
    );
    const set: string[] = [];
    const held = arpTable(['172.17.0.5', UNRESOLVED, 'docker0'], ['10.9.0.2', '02:42:0a:09:00:09', 'br-f00dfeedbeef']);
    await new NeighbourAnnouncer(docker, async (address, mac, device) => void set.push(`${address} ${mac} ${device}`), held).announce('c1');
    expect(set).toEqual([
      '172.17.0.5 02:42:ac:11:00:05 docker0',
      '10.9.0.2 02:42:0a:09:00:02 br-f00dfeedbeef',
      'fd00::2 02:42:0a:09:00:02 br-f00dfeedbeef',
    ]);
  });

  it('leaves networks that are no local bridge, and containers without an address, alone', async () => {
    const { docker } = fakeEngine(
      {
        overlay: { NetworkID: 'o', IPAddress: '10.0.1.3', MacAddress: '02:42:0a:00:01:03' },
        macvlan: { NetworkID: 'm', IPAddress: '192.168.1.40', MacAddress: '02:42:c0:a8:01:28' },
        stopped: { NetworkID: 'default', IPAddress: '', MacAddress: '' },
      },
      { o: { Driver: 'overlay' }, m: { Driver: 'macvlan' }, default: { Driver: 'bridge' } },
    );
    const set: string[] = [];
    const held = arpTable(['10.0.1.3', UNRESOLVED, 'overlay0'], ['192.168.1.40', UNRESOLVED, 'eth0']);
    await new NeighbourAnnouncer(docker, async (address) => void set.push(address), held).announce('c1');
    expect(set).toEqual([]);
  });

  it('asks the engine about each network once', async () => {
    const { docker, networkInspects } = fakeEngine(
      { bridge: { NetworkID: 'default', IPAddress: '172.17.0.5', MacAddress: '02:42:ac:11:00:05' } },
      { default: { Driver: 'bridge', Options: { 'com.docker.network.bridge.name': 'docker0' } } },
    );
    const announcer = new NeighbourAnnouncer(docker, async () => undefined, arpTable(['172.17.0.5', UNRESOLVED, 'docker0']));
    for (let i = 0; i < 3; i += 1) await announcer.announce(`c${i}`);
    expect(networkInspects).toEqual(['default']);
  });

  it('leaves an IPv4 address alone where the host holds no entry for it, or holds its MAC address; an IPv6 one is always set', async () => {
    const { docker } = fakeEngine(
      {
        bridge: { NetworkID: 'default', IPAddress: '172.17.0.5', MacAddress: '02:42:AC:11:00:05' },
        mine: { NetworkID: 'user', IPAddress: '10.9.0.2', GlobalIPv6Address: 'fd00::2', MacAddress: '02:42:0a:09:00:02' },
      },
      {
        default: { Driver: 'bridge', Options: { 'com.docker.network.bridge.name': 'docker0' } },
        user: { Driver: 'bridge', Options: { 'com.docker.network.bridge.name': 'berth0' } },
      },
    );
    const set: string[] = [];
    // 172.17.0.5 is held with the container's MAC, in another case; 10.9.0.2 only on another device.
    const held = arpTable(['172.17.0.5', '02:42:ac:11:00:05', 'docker0'], ['10.9.0.2', UNRESOLVED, 'docker0']);
    await new NeighbourAnnouncer(docker, async (address) => void set.push(address), held).announce('c1');
    expect(set).toEqual(['fd00::2']);
  });
});
