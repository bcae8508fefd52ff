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
