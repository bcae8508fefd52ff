/**
 * The deployment state machine. The reconciler persists the step after every
 * transition and each step's work is idempotent, so a server killed at any
 * point resumes from the stored step.
 *
 *   pending → starting → health-wait → switching → draining → stopping → succeeded
 *      │          │            │                                    (terminal)
 *      └──────────┴────────────┴──→ rolling-back → failed | cancelled (terminal)
 *
 * A deployment superseded by a newer PUT rolls back its own tasks and ends as
 * `superseded`. Once `switching` has happened the new revision is serving, so
 * from then on the deployment only moves forward.
 */
export const DEPLOYMENT_STEPS = [
  'pending',
  'starting',
  'health-wait',
  'switching',
  'draining',
  'stopping',
  'rolling-back',
  'succeeded',
  'failed',
  'cancelled',
  'superseded',
] as const;

export type DeploymentStep = (typeof DEPLOYMENT_STEPS)[number];

/** Why a deployment is being rolled back; decides its terminal step. */
export type RollbackCause = 'failed' | 'cancelled' | 'superseded';

const TRANSITIONS: Record<DeploymentStep, readonly DeploymentStep[]> = {
  pending: ['starting', 'rolling-back'],
  starting: ['health-wait', 'rolling-back'],
  'health-wait': ['switching', 'rolling-back'],
  switching: ['draining'],
  draining: ['stopping'],
  stopping: ['succeeded'],
  'rolling-back': ['failed', 'cancelled', 'superseded'],
  succeeded: [],
  failed: [],
  cancelled: [],
  superseded: [],
};

export class IllegalTransitionError extends Error {
  readonly code = 'BERTH_ILLEGAL_TRANSITION';
  constructor(from: DeploymentStep, to: DeploymentStep) {
    super(`A deployment cannot go from '${from}' to '${to}'`);
  }
}

export function canTransition(from: DeploymentStep, to: DeploymentStep): boolean {
  return TRANSITIONS[from].includes(to);
}

export function assertTransition(from: DeploymentStep, to: DeploymentStep): void {
  if (!canTransition(from, to)) throw new IllegalTransitionError(from, to);
}

export function isTerminal(step: DeploymentStep): boolean {
  return TRANSITIONS[step].length === 0;
}

/** Before the switch the old revision is untouched, so the deployment can still be abandoned. */
export function canRollBack(step: DeploymentStep): boolean {
  return canTransition(step, 'rolling-back');
}

export function terminalStepFor(cause: RollbackCause): DeploymentStep {
  return cause;
}

export function isDeploymentStep(value: string): value is DeploymentStep {
  return (DEPLOYMENT_STEPS as readonly string[]).includes(value);
}

/** Plain words for the status document and the CLI's progress line. */
export function describeStep(step: DeploymentStep): string {
  switch (step) {
    case 'pending':
      return 'waiting to start';
    case 'starting':
      return 'starting new tasks';
    case 'health-wait':
      return 'waiting for new tasks to become healthy';
    case 'switching':
      return 'switching traffic to the new tasks';
    case 'draining':
      return 'draining old tasks';
    case 'stopping':
      return 'stopping old tasks';
    case 'rolling-back':
      return 'rolling back';
    case 'succeeded':
      return 'finished';
    case 'failed':
      return 'failed';
    case 'cancelled':
      return 'cancelled';
    case 'superseded':
      return 'superseded by a newer revision';
  }
}
