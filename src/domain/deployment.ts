import { BerthError } from './errors.js';

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
  'stopping-old',
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

/**
 * Steps whose work, once done, changed no task: the step after one may run in the same pass,
 * on the tasks that pass saw. Waiting a pass after each would add a pass to every deployment
 * (on a busy pass, a whole second).
 */
const TASKLESS_STEPS: ReadonlySet<DeploymentStep> = new Set(['pending', 'stopping-old', 'switching']);

export function mayFollowInSamePass(completed: DeploymentStep): boolean {
  return TASKLESS_STEPS.has(completed);
}

/** Why a deployment is being rolled back; decides its terminal step. */
export type RollbackCause = 'failed' | 'cancelled' | 'superseded';

/**
 * A deployment strategy is data: which step may follow which. The reconciler has one handler
 * per step and drives any strategy by its table; a new strategy (stop-first for stateful
 * workloads, blue/green for colours) is a new table and the handlers of any new steps, not a
 * new branch in one function.
 */
export interface Strategy {
  readonly name: StrategyName;
  readonly transitions: Readonly<Record<DeploymentStep, readonly DeploymentStep[]>>;
}

export type StrategyName = 'start-first' | 'stop-first';

/** Start the new tasks beside the old ones, switch when they are healthy, then stop the old. */
export const START_FIRST: Strategy = {
  name: 'start-first',
  transitions: {
    pending: ['starting', 'rolling-back'],
    'stopping-old': [],
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
  },
};

/**
 * Stop the old tasks first, then start the new: for what must never run twice at once (a
 * database on its data directory, a worker that takes a lock). Until the switch the old
 * revision is still the current one, so a rollback starts it again.
 */
export const STOP_FIRST: Strategy = {
  name: 'stop-first',
  transitions: {
    pending: ['stopping-old', 'rolling-back'],
    'stopping-old': ['starting', 'rolling-back'],
    starting: ['health-wait', 'rolling-back'],
    'health-wait': ['switching', 'rolling-back'],
    switching: ['succeeded'],
    draining: [],
    stopping: [],
    'rolling-back': ['failed', 'cancelled', 'superseded'],
    succeeded: [],
    failed: [],
    cancelled: [],
    superseded: [],
  },
};

const STRATEGIES: Readonly<Record<StrategyName, Strategy>> = { 'start-first': START_FIRST, 'stop-first': STOP_FIRST };

/** The step a deployment goes to when its current step's work is done (not a rollback). */
export function nextStep(from: DeploymentStep, strategy: Strategy): DeploymentStep {
  const next = strategy.transitions[from].find((step) => step !== 'rolling-back');
  if (next === undefined) throw new IllegalTransitionError(from, from, strategy.name);
  return next;
}

export function strategyNamed(name: string): Strategy {
  const strategy = STRATEGIES[name as StrategyName];
  if (!strategy) throw new Error(`No deployment strategy '${name}'`);
  return strategy;
}

export class IllegalTransitionError extends BerthError {
  readonly code = 'BERTH_ILLEGAL_TRANSITION';
  readonly status = 500;
  constructor(from: DeploymentStep, to: DeploymentStep, strategy: StrategyName) {
    super(`A ${strategy} deployment cannot go from '${from}' to '${to}'`);
  }
}

export function canTransition(from: DeploymentStep, to: DeploymentStep, strategy: Strategy = START_FIRST): boolean {
  return strategy.transitions[from].includes(to);
}

export function assertTransition(from: DeploymentStep, to: DeploymentStep, strategy: Strategy = START_FIRST): void {
  if (!canTransition(from, to, strategy)) throw new IllegalTransitionError(from, to, strategy.name);
}

/** A step no strategy leaves. */
export function isTerminal(step: DeploymentStep): boolean {
  return step === 'succeeded' || step === 'failed' || step === 'cancelled' || step === 'superseded';
}

/** Before the switch the old revision is untouched, so the deployment can still be abandoned. */
export function canRollBack(step: DeploymentStep, strategy: Strategy = START_FIRST): boolean {
  return canTransition(step, 'rolling-back', strategy);
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
    case 'stopping-old':
      return 'stopping the old tasks first';
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
