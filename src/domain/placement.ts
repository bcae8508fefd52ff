import { satisfies } from './placement-constraints.js';

/**
 * Memory placement: the reservations of everything berth runs on the engine
 * are accounted against its capacity. During an update the new tasks run beside
 * the old ones, so they need room of their own.
 */
export interface PlacementRequest {
  readonly replicas: number;
  readonly reservationMiB: number;
  /** Sum of the reservations of containers already on the engine. */
  readonly reservedMiB: number;
  readonly capacityMiB: number;
}

export type PlacementResult = { readonly fits: true } | { readonly fits: false; readonly reason: string };

export function checkPlacement(request: PlacementRequest): PlacementResult {
  const needed = request.replicas * request.reservationMiB;
  const free = Math.max(0, request.capacityMiB - request.reservedMiB);
  if (needed <= free) return { fits: true };
  return {
    fits: false,
    reason:
      `not enough memory: ${request.replicas} task(s) × ${request.reservationMiB} MiB reserved = ${needed} MiB, ` +
      `but only ${free} MiB of ${request.capacityMiB} MiB is unreserved`,
  };
}

/** A node's memory as placement sees it, and what its constraints match. */
export interface NodeRoom {
  readonly name: string;
  readonly capacityMiB: number;
  readonly reservedMiB: number;
  /** Up and taking new tasks. */
  readonly schedulable: boolean;
  readonly attributes: Readonly<Record<string, string>>;
}

export interface NodesRequest {
  readonly replicas: number;
  readonly reservationMiB: number;
  /** Constraints every task must satisfy (placement-constraints.ts). */
  readonly constraints: readonly string[];
  readonly nodes: readonly NodeRoom[];
}

/** Where each task would go: the names of the nodes, one per task. */
export type NodesResult = { readonly fits: true; readonly nodes: readonly string[] } | { readonly fits: false; readonly reason: string };

/**
 * Placement on several nodes: each task needs one node with room for its whole reservation
 * (a task never spans machines). Tasks go to the node with the most room left, as Swarm's
 * spreading would, so "fits" means Swarm can place them all. One node is the single engine,
 * and its answer is checkPlacement's, word for word.
 */
export function placeOnNodes(request: NodesRequest): NodesResult {
  const eligible = request.nodes.filter((n) => n.schedulable && satisfies(request.constraints, n.attributes));
  if (eligible.length === 0) {
    const names = byName(request.nodes).map((n) => `${n.name}${n.schedulable ? '' : ' (takes no new tasks)'}`).join(', ');
    const rule = request.constraints.length === 0 ? '' : ` matching ${request.constraints.join(' and ')}`;
    return { fits: false, reason: `no node can take its tasks: none${rule} is up and active among ${names || 'no nodes'}` };
  }
  const only = eligible[0] as NodeRoom;
  if (request.nodes.length === 1) {
    const single = checkPlacement({ replicas: request.replicas, reservationMiB: request.reservationMiB, reservedMiB: only.reservedMiB, capacityMiB: only.capacityMiB });
    return single.fits ? { fits: true, nodes: Array.from({ length: request.replicas }, () => only.name) } : single;
  }
  const free = new Map(eligible.map((n) => [n.name, n.capacityMiB - n.reservedMiB]));
  const placed: string[] = [];
  for (let i = 0; i < request.replicas; i++) {
    const [name, room] = [...free].sort((a, b) => b[1] - a[1])[0] as [string, number];
    if (room < request.reservationMiB) break;
    free.set(name, room - request.reservationMiB);
    placed.push(name);
  }
  if (placed.length === request.replicas) return { fits: true, nodes: placed };
  const needed = request.replicas * request.reservationMiB;
  const rooms = byName(eligible).map((n) => `${n.name} ${Math.max(0, n.capacityMiB - n.reservedMiB)} MiB of ${n.capacityMiB} MiB unreserved`).join(', ');
  return {
    fits: false,
    reason:
      `not enough memory: ${request.replicas} task(s) × ${request.reservationMiB} MiB reserved = ${needed} MiB, ` +
      `but ${placed.length === 0 ? 'no node has room for one' : `only ${placed.length} fit`}: ${rooms}`,
  };
}

function byName(nodes: readonly NodeRoom[]): NodeRoom[] {
  return [...nodes].sort((a, b) => a.name.localeCompare(b.name));
}
