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
  const start: number[] = [];
  const waiting = new Map<number, string>();
  const blockedBy = new Map<string, number>();
  let free = freeMiB;
  for (const job of [...queue].sort((a, b) => a.id - b.id)) {
    const blocker = blockedBy.get(job.project);
    if (blocker !== undefined) {
      waiting.set(job.id, `waiting behind job ${blocker} of this project, which waits for memory`);
      continue;
    }
    if (job.reservationMiB <= free) {
      start.push(job.id);
      free -= job.reservationMiB;
      continue;
    }
    blockedBy.set(job.project, job.id);
    waiting.set(job.id, `waiting for ${job.reservationMiB} MiB; ${Math.max(0, free)} MiB free of ${capacityMiB}`);
  }
  return { start, waiting };
}
