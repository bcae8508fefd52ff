/**
 * Admission of queued jobs to the memory berth may reserve. A job that does not fit waits
 * (it does not fail) and starts when memory frees. Each project's jobs start in the order
 * they were queued; a project's first job waiting for memory holds back only that project's
 * later jobs, never another project's.
 */
export interface QueuedJob {
  readonly id: number;
  readonly project: string;
  readonly reservationMiB: number;
}

export interface Admission {
  /** The jobs to start now, in order. */
  readonly start: readonly number[];
  /** Why each other job waits, in words for its status. */
  readonly waiting: ReadonlyMap<number, string>;
}

export function admit(queue: readonly QueuedJob[], freeMiB: number, capacityMiB: number): Admission {
  return admitOnNodes(queue, [{ name: '', freeMiB, capacityMiB }]);
}

/** A node's memory as admission sees it. */
export interface NodeFree {
  readonly name: string;
  readonly freeMiB: number;
  readonly capacityMiB: number;
}

export interface NodeAdmission extends Admission {
  /** The node each started job's task is expected on (the one with the most room), by job id. */
  readonly nodes: ReadonlyMap<number, string>;
}

/**
 * Admission on several nodes: a job needs one node with room for its whole reservation. Each
 * job goes where the most memory is free, as Swarm spreads tasks; with one node this is
 * `admit`, word for word.
 */
export function admitOnNodes(queue: readonly QueuedJob[], rooms: readonly NodeFree[]): NodeAdmission {
  const start: number[] = [];
  const waiting = new Map<number, string>();
  const nodes = new Map<number, string>();
  const blockedBy = new Map<string, number>();
  const free = new Map(rooms.map((r) => [r.name, r.freeMiB]));
  for (const job of [...queue].sort((a, b) => a.id - b.id)) {
    const blocker = blockedBy.get(job.project);
    if (blocker !== undefined) {
      waiting.set(job.id, `waiting behind job ${blocker} of this project, which waits for memory`);
      continue;
    }
    const best = [...free].sort((a, b) => b[1] - a[1])[0];
    if (best && job.reservationMiB <= best[1]) {
      start.push(job.id);
      nodes.set(job.id, best[0]);
      free.set(best[0], best[1] - job.reservationMiB);
      continue;
    }
    blockedBy.set(job.project, job.id);
    waiting.set(job.id, waitingReason(job.reservationMiB, rooms, free));
  }
  return { start, waiting, nodes };
}

function waitingReason(needed: number, rooms: readonly NodeFree[], free: ReadonlyMap<string, number>): string {
  if (rooms.length === 1) {
    const only = rooms[0] as NodeFree;
    return `waiting for ${needed} MiB; ${Math.max(0, free.get(only.name) ?? 0)} MiB free of ${only.capacityMiB}`;
  }
  const each = [...rooms].sort((a, b) => a.name.localeCompare(b.name)).map((r) => `${r.name} ${Math.max(0, free.get(r.name) ?? 0)} MiB free of ${r.capacityMiB}`).join(', ');
  return `waiting for ${needed} MiB on one node; ${each}`;
}
