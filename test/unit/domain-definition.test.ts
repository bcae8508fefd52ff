import { describe, expect, it } from 'vitest';
import { parseDefinition, type DefinitionInput } from '../../src/domain/definition.js';
import { InvalidDefinitionError } from '../../src/domain/errors.js';

const base: DefinitionInput = {
  'container-tag': 'latest',
  'memory-reservation': 100,
  'memory-limit': 150,
  'container-port': 80,
  environment: [{ name: 'CONTEXT_ROOT', value: '/cloudifacturing-test-service' }, { name: 'A', value: 'b' }],
};

describe('service definitions', () => {
  it('normalises the seed’s example definition', () => {
    expect(parseDefinition(base)).toEqual({
      image: null,
      containerTag: 'latest',
      memoryReservationMiB: 100,
      memoryLimitMiB: 150,
      containerPort: 80,
      // CONTEXT_ROOT is berth's to set; the client's value is dropped, not refused
      environment: [{ name: 'A', value: 'b' }],
      replicas: 1,
      command: null,
      // Every task is limited, whether the definition says so or not.
      cpuLimit: 1,
      pidsLimit: 512,
      capAdd: [],
      stack: null,
    });
  });

  it('takes CPU and process limits, and gives back only Docker’s default capabilities', () => {
    expect(parseDefinition({ ...base, 'cpu-limit': 0.25, 'pids-limit': 64, 'cap-add': ['sys_chroot', 'CAP_NET_RAW', 'CHOWN'] })).toMatchObject({
      cpuLimit: 0.25,
      pidsLimit: 64,
      // CHOWN is kept anyway; names are taken in either spelling.
      capAdd: ['NET_RAW', 'SYS_CHROOT'],
    });
  });

  it('runs `image` when given, ignoring container-tag', () => {
    expect(parseDefinition({ ...base, image: 'registry.local:5000/team/app:v2' })).toMatchObject({
      image: 'registry.local:5000/team/app:v2',
      containerTag: null,
    });
  });

  it.each([
    [{ 'memory-reservation': 200 }, /may not be greater/],
    [{ 'memory-limit': 4 }, /between 6 and/],
    [{ 'container-port': 0 }, /container-port/],
    [{ replicas: 65 }, /replicas/],
    [{ 'container-tag': 'has space' }, /container-tag/],
    [{ 'container-tag': undefined }, /needs 'container-tag'/],
    [{ image: 'UPPER/case' }, /'image' must be/],
    [{ environment: [{ name: 'A', value: '1' }, { name: 'A', value: '2' }] }, /given twice/],
    [{ environment: [{ name: 'A-B', value: '1' }] }, /not valid/],
    [{ 'cpu-limit': 0 }, /cpu-limit/],
    [{ 'cpu-limit': 65 }, /cpu-limit/],
    [{ 'pids-limit': 8 }, /pids-limit/],
    [{ 'pids-limit': 100.5 }, /pids-limit/],
    [{ 'cap-add': ['SYS_ADMIN'] }, /may only name .*not 'SYS_ADMIN'/],
    [{ 'cap-add': ['NET_ADMIN'] }, /cap-add/],
  ] as const)('refuses %j', (overrides, message) => {
    expect(() => parseDefinition({ ...base, ...overrides } as DefinitionInput)).toThrow(InvalidDefinitionError);
    expect(() => parseDefinition({ ...base, ...overrides } as DefinitionInput)).toThrow(message);
  });
});
