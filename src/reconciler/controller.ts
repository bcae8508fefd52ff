import type { HealthCheck } from '../domain/health-check.js';
import type { NodeRoom } from '../domain/placement.js';
import type { ColourTargets, Route } from '../gateway/gateway.js';
import type { MonitoredTask } from './health-monitor.js';
import type { OwnedTask, WorkloadKind } from './labels.js';

/** What one pass shares between every kind of workload. */
export interface PassContext {
  /** MiB reserved on the runtime by every kind's tasks, counting placements made earlier in this pass. */
  reservedMiB(): Promise<number>;
  /** Counts a task placed in this pass, on the node expected to take it (a name from `rooms`). */
  reserve(mib: number, node?: string): void;
  capacityMiB(): Promise<number>;
  /** Each node's memory and what is reserved on it, counting placements made earlier in this pass. */
  rooms(): Promise<readonly NodeRoom[]>;
  /** Asks for another pass at the given time (backoff, deadlines). */
  wakeAt(time: number): void;
}

/**
 * Drives one kind of workload (services, jobs…) from its desired state in the store toward
 * its tasks on the runtime, level-triggered: everything it decides comes from the store and
 * the tasks it is given, so a pass can be repeated or resumed after a crash. A new kind of
 * workload is a new controller on the same loop.
 */
export interface WorkloadController<T extends OwnedTask = OwnedTask> {
  readonly kind: WorkloadKind;
  /**
   * One step for every workload of the kind. `tasks` are the instance's tasks of this kind,
   * by workload id; tasks of a workload the store no longer has are the controller's to
   * remove. Answers true while something is in progress (the loop then passes again soon).
   */
  reconcile(tasks: ReadonlyMap<number, readonly T[]>, pass: PassContext): Promise<boolean>;
}

/** A route a workload wants served, and who asked for it (a rejection is told to its owner). */
export interface OwnedRoute extends Route {
  readonly owner: { readonly kind: WorkloadKind; readonly id: number; readonly label: string };
  /** The task behind each target, in the same order. */
  readonly taskIds: readonly string[];
  readonly colours?: readonly OwnedColour[];
}

export interface OwnedColour extends ColourTargets {
  readonly taskIds: readonly string[];
}

/** A task to probe, with the check it is probed with. */
export type ProbedTask = MonitoredTask & { readonly check: HealthCheck };

/** A controller whose workloads the gateway serves: it says which routes and which probes. */
export interface RouteSource<T extends OwnedTask = OwnedTask> {
  /**
   * The routes and the tasks to probe, from the tasks given. `adopted` holds the running
   * tasks a starting server found, which stay routed until their first probe; null once
   * that grace has passed.
   */
  routes(tasks: ReadonlyMap<number, readonly T[]>, adopted: ReadonlySet<string> | null): { routes: OwnedRoute[]; monitored: ProbedTask[] };
  /** A route the gateway left out, told to its owner; null: it is served again. */
  routeRejected(ownerId: number, reason: string | null): void;
}
