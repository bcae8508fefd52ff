import { describe, expect, it } from 'vitest';
import { formatCidr, freeSubnets, parseCidr, parsePool } from '../../src/runtime/docker/subnets.js';

describe('project network subnets', () => {
  it('carves /22s out of the pool, skipping every range the engine already uses', () => {
    const pool = parsePool('10.208.0.0/16', 'network-pool');
    const taken = ['10.208.0.0/24', '10.208.5.128/25', '10.208.8.0/21', '172.17.0.0/16'].map((c) => parseCidr(c)!);
    const first = [...freeSubnets(pool, taken)].slice(0, 3).map(formatCidr);
    expect(first).toEqual(['10.208.16.0/22', '10.208.20.0/22', '10.208.24.0/22']);
    expect([...freeSubnets(pool, [])]).toHaveLength(64);
    expect([...freeSubnets(parsePool('10.208.0.0/12', 'network-pool'), [])]).toHaveLength(1024);
    expect([...freeSubnets(pool, [parseCidr('10.0.0.0/8')!])]).toEqual([]);
  });

  it('refuses a pool that is not an IPv4 range of /8 to /22', () => {
    for (const text of ['10.213.0.0/23', '10.0.0.0/7', 'fd00::/64', '300.1.1.1/16', 'nope']) {
      expect(() => parsePool(text, 'network-pool'), text).toThrow(/--network-pool must be/);
    }
    expect(formatCidr(parsePool('10.213.7.9/16', 'network-pool'))).toBe('10.213.0.0/16');
  });
});
