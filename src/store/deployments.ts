import { assertTransition, isTerminal, strategyNamed, type DeploymentStep, type RollbackCause, type StrategyName } from '../domain/deployment.js';
import { BerthError } from '../domain/errors.js';
import type { Clock, Deployment } from '../domain/model.js';
import type { Db } from './database.js';

interface DeploymentRow {
  id: number;
  service_id: number;
  revision: number;
  previous_revision: number | null;
  strategy: StrategyName;
  step: DeploymentStep;
  reason: string | null;
  rollback_to: RollbackCause | null;
  step_started_at: number;
  created_at: number;
  finished_at: number | null;
}

function toDeployment(row: DeploymentRow): Deployment {
  return {
    id: row.id,
    serviceId: row.service_id,
    revision: row.revision,
    previousRevision: row.previous_revision,
    strategy: row.strategy,
    step: row.step,
    reason: row.reason,
    rollbackTo: row.rollback_to,
    stepStartedAt: row.step_started_at,
    createdAt: row.created_at,
    finishedAt: row.finished_at,
  };
}

/** Thrown when a deployment's stored step is not the one the caller expected (another writer moved it). */
export class StaleDeploymentError extends BerthError {
  readonly code = 'BERTH_STALE_DEPLOYMENT';
  readonly status = 409;
  constructor(id: number, expected: DeploymentStep) {
    super(`Deployment ${id} is no longer at step '${expected}'`);
  }
}

export class DeploymentRepository {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
  ) {}

  create(serviceId: number, revision: number, previousRevision: number | null, strategy: StrategyName = 'start-first'): Deployment {
    const now = this.clock.now();
    const info = this.db
      .prepare(
        "INSERT INTO deployments (service_id, revision, previous_revision, step, step_started_at, created_at, strategy) VALUES (?, ?, ?, 'pending', ?, ?, ?)",
      )
      .run(serviceId, revision, previousRevision, now, now, strategy);
    return this.get(Number(info.lastInsertRowid)) as Deployment;
  }

  get(id: number): Deployment | null {
    const row = this.db.prepare('SELECT * FROM deployments WHERE id = ?').get(id) as DeploymentRow | undefined;
    return row ? toDeployment(row) : null;
  }

  /** Unfinished deployments of a service, oldest first: only the oldest is driven at a time. */
  open(serviceId: number): Deployment[] {
    return (
      this.db
        .prepare('SELECT * FROM deployments WHERE service_id = ? AND finished_at IS NULL ORDER BY id')
        .all(serviceId) as DeploymentRow[]
    ).map(toDeployment);
  }

  /** Every unfinished deployment, oldest first, in one read for a whole pass. */
  openOfAll(): Deployment[] {
    return (this.db.prepare('SELECT * FROM deployments WHERE finished_at IS NULL ORDER BY id').all() as DeploymentRow[]).map(toDeployment);
  }

  /** How many deployments ended in each terminal step. */
  finishedCounts(): { step: string; count: number }[] {
    return this.db.prepare('SELECT step, COUNT(*) AS count FROM deployments WHERE finished_at IS NOT NULL GROUP BY step').all() as { step: string; count: number }[];
  }

  latest(serviceId: number): Deployment | null {
    const row = this.db
      .prepare('SELECT * FROM deployments WHERE service_id = ? ORDER BY id DESC LIMIT 1')
      .get(serviceId) as DeploymentRow | undefined;
    return row ? toDeployment(row) : null;
  }

  /** The deployments of several services merged (a service's colours), newest first. */
  listOfMany(serviceIds: readonly number[], limit: number): Deployment[] {
    return (
      this.db
        .prepare(`SELECT * FROM deployments WHERE service_id IN (${serviceIds.map(() => '?').join(', ')}) ORDER BY id DESC LIMIT ?`)
        .all(...serviceIds, limit) as DeploymentRow[]
    ).map(toDeployment);
  }

  /** Moves a deployment one step, checking the transition and that nobody moved it meanwhile. */
  advance(deployment: Deployment, to: DeploymentStep, reason?: string): Deployment {
    assertTransition(deployment.step, to, strategyNamed(deployment.strategy));
    const now = this.clock.now();
    const result = this.db
      .prepare(
        'UPDATE deployments SET step = ?, reason = COALESCE(?, reason), step_started_at = ?, finished_at = ? WHERE id = ? AND step = ?',
      )
      .run(to, reason ?? null, now, isTerminal(to) ? now : null, deployment.id, deployment.step);
    if (result.changes !== 1) throw new StaleDeploymentError(deployment.id, deployment.step);
    return this.get(deployment.id) as Deployment;
  }

  /** Starts a rollback that ends in `cause`; the reconciler removes the new tasks and finishes it. */
  rollBack(deployment: Deployment, cause: RollbackCause, reason: string): Deployment {
    assertTransition(deployment.step, 'rolling-back', strategyNamed(deployment.strategy));
    const now = this.clock.now();
    const result = this.db
      .prepare(
        "UPDATE deployments SET step = 'rolling-back', rollback_to = ?, reason = ?, step_started_at = ? WHERE id = ? AND step = ?",
      )
      .run(cause, reason, now, deployment.id, deployment.step);
    if (result.changes !== 1) throw new StaleDeploymentError(deployment.id, deployment.step);
    return this.get(deployment.id) as Deployment;
  }
}
