import type { DeploymentStep, RollbackCause, StrategyName } from './deployment.js';
import type { ServiceDefinition } from './definition.js';
import type { HealthCheck } from './health-check.js';

export type ServiceStatus = 'INACTIVE' | 'ACTIVE' | 'DRAINING';

/**
 * What should become of a service's tasks besides its revision: running (kept at its replica
 * count); stopped (by `compose stop` or `kill`, until started again); completed or exited (a
 * stack service whose restart policy does not restart what ended: exit 0, or not).
 */
export type DesiredState = 'running' | 'stopped' | 'completed' | 'exited';
export type RevisionStatus = 'PENDING' | 'ACTIVE' | 'INACTIVE' | 'FAILED';

export interface Service {
  readonly id: number;
  readonly project: string;
  readonly name: string;
  readonly healthCheck: HealthCheck;
  readonly status: ServiceStatus;
  /** The revision that serves (or last served); null until a deployment first succeeds. */
  readonly currentRevision: number | null;
  readonly crashCount: number;
  readonly lastCrashAt: number | null;
  readonly lastExit: string | null;
  readonly steady: boolean;
  readonly createdAt: number;
  /** The stack it is a service of; null for one made with POST /services. */
  readonly stackId: number | null;
  readonly desiredState: DesiredState;
  /** `compose restart`: tasks made before this time are replaced. */
  readonly restartAt: number | null;
  /** `compose kill -s SIGNAL`: a signal still to send to the tasks made before killAt. */
  readonly kill: { readonly signal: string; readonly at: number } | null;
  /**
   * Colours (domain/colours.ts). A colour is a row of its own, of the service `colourOf`, with
   * that service's name; null on every other row.
   */
  readonly colour: string | null;
  readonly colourOf: number | null;
  /** On a service deployed with colours: the colour the gateway serves. Null without colours. */
  readonly liveColour: string | null;
}

export interface Revision {
  readonly serviceId: number;
  readonly number: number;
  readonly definition: ServiceDefinition;
  readonly status: RevisionStatus;
  readonly createdAt: number;
}

export interface Deployment {
  readonly id: number;
  readonly serviceId: number;
  readonly revision: number;
  readonly previousRevision: number | null;
  /** The step table the deployment follows. */
  readonly strategy: StrategyName;
  readonly step: DeploymentStep;
  readonly reason: string | null;
  readonly rollbackTo: RollbackCause | null;
  readonly stepStartedAt: number;
  readonly createdAt: number;
  readonly finishedAt: number | null;
}

export interface ServiceEvent {
  readonly id: number;
  readonly createdAt: number;
  readonly message: string;
  /** The deployment the event is part of, if any. */
  readonly deploymentId: number | null;
}

export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
