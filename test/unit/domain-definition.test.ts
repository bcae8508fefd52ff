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
  ] as const)('refuses %j', (overrides, message) => {
    expect(() => parseDefinition({ ...base, ...overrides } as DefinitionInput)).toThrow(InvalidDefinitionError);
    expect(() => parseDefinition({ ...base, ...overrides } as DefinitionInput)).toThrow(message);
  });
});
