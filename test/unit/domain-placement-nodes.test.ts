import { describe, expect, it } from 'vitest';
import { admit, admitOnNodes } from '../../src/domain/admission.js';
import { InvalidPlacementError } from '../../src/domain/node-errors.js';
import { checkPlacement, placeOnNodes, type NodeRoom } from '../../src/domain/placement.js';
import { parseConstraint, parsePlacement, placementConstraints, satisfies } from '../../src/domain/placement-constraints.js';

function room(name: string, capacityMiB: number, reservedMiB: number, more: Partial<NodeRoom> = {}): NodeRoom {
  return { name, capacityMiB, reservedMiB, schedulable: true, attributes: { 'node.hostname': name, 'node.role': name.startsWith('manager') ? 'manager' : 'worker' }, ...more };
}

describe('placement on nodes', () => {
  it('answers exactly what one engine answers when there is one node', () => {
    const one = [room('host', 1000, 800)];
    const single = checkPlacement({ replicas: 3, reservationMiB: 100, reservedMiB: 800, capacityMiB: 1000 });
    expect(placeOnNodes({ replicas: 3, reservationMiB: 100, constraints: [], nodes: one })).toEqual(single);
    expect(placeOnNodes({ replicas: 2, reservationMiB: 100, constraints: [], nodes: one })).toEqual({ fits: true, nodes: ['host', 'host'] });
  });

  it('spreads tasks over the nodes with the most room, as Swarm would', () => {
    const nodes = [room('a', 1000, 0), room('b', 1000, 500), room('c', 1000, 100)];
    expect(placeOnNodes({ replicas: 3, reservationMiB: 200, constraints: [], nodes })).toEqual({ fits: true, nodes: ['a', 'c', 'a'] });
  });

  it('needs room for each whole task on one node: free memory split over nodes does not fit a task', () => {
    const nodes = [room('worker-2', 1000, 600), room('manager-1', 1000, 700)];
    const result = placeOnNodes({ replicas: 1, reservationMiB: 500, constraints: [], nodes });
    expect(result).toEqual({
      fits: false,
      reason: 'not enough memory: 1 task(s) × 500 MiB reserved = 500 MiB, but no node has room for one: manager-1 300 MiB of 1000 MiB unreserved, worker-2 400 MiB of 1000 MiB unreserved',
    });
    expect(placeOnNodes({ replicas: 2, reservationMiB: 350, constraints: [], nodes })).toMatchObject({ fits: false, reason: expect.stringMatching(/but only 1 fit: /) });
  });

  it('places only on nodes that take tasks and match the constraints, and names them all when none does', () => {
    const nodes = [room('manager-1', 1000, 0), room('worker-2', 1000, 0, { schedulable: false }), room('worker-3', 1000, 0, { attributes: { 'node.labels.gpu': 'yes', 'node.hostname': 'worker-3' } })];
    expect(placeOnNodes({ replicas: 2, reservationMiB: 10, constraints: ['node.labels.gpu==yes'], nodes })).toEqual({ fits: true, nodes: ['worker-3', 'worker-3'] });
    expect(placeOnNodes({ replicas: 1, reservationMiB: 10, constraints: ['node.hostname==worker-2'], nodes })).toEqual({
      fits: false,
      reason: 'no node can take its tasks: none matching node.hostname==worker-2 is up and active among manager-1, worker-2 (takes no new tasks), worker-3',
    });
  });
});

describe('placement constraints', () => {
  it("reads Swarm's constraint expressions and refuses what Swarm would", () => {
    expect(parseConstraint(' node.labels.gpu == yes ')).toEqual({ key: 'node.labels.gpu', equals: true, value: 'yes' });
    expect(parseConstraint('node.role!=manager')).toEqual({ key: 'node.role', equals: false, value: 'manager' });
    for (const bad of ['node.colour=blue', 'node.colour==blue', 'node.role==boss', 'node.hostname==', 'engine.labels.x==a b', '==x']) {
      expect(() => parseConstraint(bad), bad).toThrow(InvalidPlacementError);
    }
  });

  it('turns --node into a constraint on the host name, or on the id when it is one', () => {
    expect(placementConstraints(parsePlacement('worker-2', ['node.labels.zone==a']))).toEqual(['node.hostname==worker-2', 'node.labels.zone==a']);
    expect(placementConstraints(parsePlacement('abcdefghijklmnopqrstuvwxy', undefined))).toEqual(['node.id==abcdefghijklmnopqrstuvwxy']);
    expect(parsePlacement(undefined, [])).toBeNull();
    expect(() => parsePlacement('a b', undefined)).toThrow(InvalidPlacementError);
    expect(() => parsePlacement(undefined, Array.from({ length: 17 }, () => 'node.role==worker'))).toThrow(/at most 16/);
  });

  it('matches as Swarm does: case aside, and a missing label equals nothing', () => {
    const attributes = { 'node.hostname': 'Worker-2', 'node.labels.zone': 'a' };
    expect(satisfies(['node.hostname==worker-2', 'node.labels.zone==a'], attributes)).toBe(true);
    expect(satisfies(['node.labels.gpu==yes'], attributes)).toBe(false);
    expect(satisfies(['node.labels.gpu!=yes'], attributes)).toBe(true);
  });
});

describe('job admission on nodes', () => {
  const queue = [
    { id: 1, project: 'p', reservationMiB: 600 },
    { id: 2, project: 'p', reservationMiB: 600 },
    { id: 3, project: 'q', reservationMiB: 100 },
  ];

  it('is `admit`, word for word, on one node', () => {
    const one = admitOnNodes(queue, [{ name: '', freeMiB: 700, capacityMiB: 1000 }]);
    const plain = admit(queue, 700, 1000);
    expect([one.start, [...one.waiting]]).toEqual([plain.start, [...plain.waiting]]);
  });

  it('starts each job on a node with room for all of it, and says per node why the others wait', () => {
    const result = admitOnNodes(queue, [
      { name: 'worker-3', freeMiB: 650, capacityMiB: 1000 },
      { name: 'manager-1', freeMiB: 500, capacityMiB: 1000 },
    ]);
    expect(result.start).toEqual([1, 3]);
    expect(result.nodes).toEqual(new Map([[1, 'worker-3'], [3, 'manager-1']]));
    expect(result.waiting.get(2)).toBe('waiting for 600 MiB on one node; manager-1 500 MiB free of 1000, worker-3 50 MiB free of 1000');
  });
});
