import { ServiceAddressTakenError, ServiceExistsError } from '../domain/errors.js';
import type { HealthCheck } from '../domain/health-check.js';
import type { Clock, DesiredState, Service, ServiceStatus } from '../domain/model.js';
import { qualifiedName } from '../domain/names.js';
import type { Db } from './database.js';

interface ServiceRow {
  id: number;
  project: string;
  name: string;
  health_check: string;
  status: ServiceStatus;
  current_revision: number | null;
  crash_count: number;
  last_crash_at: number | null;
  last_exit: string | null;
  steady: number;
  created_at: number;
  stack_id: number | null;
  desired_state: DesiredState;
  restart_at: number | null;
  kill_signal: string | null;
  kill_at: number | null;
  colour: string | null;
  colour_of: number | null;
  live_colour: string | null;
}

function toService(row: ServiceRow): Service {
  return {
    id: row.id,
    project: row.project,
    // A colour's row is stored as '<service>.<colour>' (names are unique per project); it is the service's.
    name: row.colour === null ? row.name : row.name.slice(0, row.name.length - row.colour.length - 1),
    healthCheck: JSON.parse(row.health_check) as HealthCheck,
    status: row.status,
    currentRevision: row.current_revision,
    crashCount: row.crash_count,
    lastCrashAt: row.last_crash_at,
    lastExit: row.last_exit,
    steady: row.steady === 1,
    createdAt: row.created_at,
    stackId: row.stack_id,
    desiredState: row.desired_state,
    restartAt: row.restart_at,
    kill: row.kill_signal === null || row.kill_at === null ? null : { signal: row.kill_signal, at: row.kill_at },
    colour: row.colour,
    colourOf: row.colour_of,
    liveColour: row.live_colour,
  };
}

export class ServiceRepository {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
  ) {}

  create(project: string, name: string, healthCheck: HealthCheck, stackId: number | null = null): Service {
    return this.db.transaction(() => {
      if (this.find(project, name)) throw new ServiceExistsError(name);
      const qualified = qualifiedName(project, name);
      if (this.db.prepare('SELECT 1 FROM services WHERE qualified_name = ?').get(qualified)) {
        throw new ServiceAddressTakenError(name, qualified);
      }
      const info = this.db
        .prepare(
          "INSERT INTO services (project, name, qualified_name, health_check, status, created_at, stack_id) VALUES (?, ?, ?, ?, 'INACTIVE', ?, ?)",
        )
        .run(project, name, qualified, JSON.stringify(healthCheck), this.clock.now(), stackId);
      return this.byId(Number(info.lastInsertRowid)) as Service;
    })();
  }

  find(project: string, name: string): Service | null {
    const row = this.db.prepare('SELECT * FROM services WHERE project = ? AND name = ?').get(project, name) as
      | ServiceRow
      | undefined;
    return row ? toService(row) : null;
  }

  byId(id: number): Service | null {
    const row = this.db.prepare('SELECT * FROM services WHERE id = ?').get(id) as ServiceRow | undefined;
    return row ? toService(row) : null;
  }

  /** The names of a project's services, sorted: all a listing needs, read from the (project, name) index. Colours are parts of their service. */
  namesByProject(project: string): string[] {
    const rows = this.db.prepare('SELECT name FROM services WHERE project = ? AND colour_of IS NULL ORDER BY name').all(project) as { name: string }[];
    return rows.map((row) => row.name);
  }

  /** Each service's id and the count of its row's updates, by id: what changed since an earlier read. */
  versions(): [id: number, version: number][] {
    return this.db.prepare('SELECT id, version FROM services ORDER BY id').raw(true).all() as [number, number][];
  }

  listAll(): Service[] {
    return (this.db.prepare('SELECT * FROM services ORDER BY id').all() as ServiceRow[]).map(toService);
  }

  setStatus(id: number, status: ServiceStatus): void {
    this.db.prepare('UPDATE services SET status = ? WHERE id = ?').run(status, id);
  }

  setCurrentRevision(id: number, revision: number): void {
    this.db.prepare("UPDATE services SET current_revision = ?, status = 'ACTIVE' WHERE id = ?").run(revision, id);
  }

  recordCrash(id: number, at: number, lastExit: string): void {
    this.db
      .prepare('UPDATE services SET crash_count = crash_count + 1, last_crash_at = ?, last_exit = ?, steady = 0 WHERE id = ?')
      .run(at, lastExit, id);
  }

  resetCrashes(id: number): void {
    this.db.prepare('UPDATE services SET crash_count = 0 WHERE id = ? AND crash_count > 0').run(id);
  }

  setDesiredState(id: number, state: DesiredState): void {
    this.db.prepare('UPDATE services SET desired_state = ? WHERE id = ? AND desired_state != ?').run(state, id, state);
  }

  requestRestart(id: number, at: number): void {
    this.db.prepare("UPDATE services SET restart_at = ?, desired_state = 'running' WHERE id = ?").run(at, id);
  }

  /** A signal for the tasks running now; a signal that ends them also stops the service. */
  requestKill(id: number, signal: string, at: number, stops: boolean): void {
    this.db.prepare('UPDATE services SET kill_signal = ?, kill_at = ? WHERE id = ?').run(signal, at, id);
    if (stops) this.setDesiredState(id, 'stopped');
  }

  /** The signal was sent. */
  killSent(id: number, at: number): void {
    this.db.prepare('UPDATE services SET kill_signal = NULL WHERE id = ? AND kill_at = ?').run(id, at);
  }

  /** A stack's services, by id. */
  ofStack(stackId: number): Service[] {
    return (this.db.prepare('SELECT * FROM services WHERE stack_id = ? ORDER BY id').all(stackId) as ServiceRow[]).map(toService);
  }

  /**
   * A new colour of a service, with the service's health check; the first colour a service gets
   * is its live one. Call inside the caller's transaction.
   */
  createColour(service: Service, colour: string): Service {
    const info = this.db
      .prepare(
        "INSERT INTO services (project, name, health_check, status, created_at, colour, colour_of) VALUES (?, ?, ?, 'INACTIVE', ?, ?, ?)",
      )
      .run(service.project, `${service.name}.${colour}`, JSON.stringify(service.healthCheck), this.clock.now(), colour, service.id);
    this.db.prepare('UPDATE services SET live_colour = ? WHERE id = ? AND live_colour IS NULL').run(colour, service.id);
    return this.byId(Number(info.lastInsertRowid)) as Service;
  }

  /** A service's colours, oldest first. */
  coloursOf(serviceId: number): Service[] {
    return (this.db.prepare('SELECT * FROM services WHERE colour_of = ? ORDER BY id').all(serviceId) as ServiceRow[]).map(toService);
  }

  colourOf(serviceId: number, colour: string): Service | null {
    const row = this.db.prepare('SELECT * FROM services WHERE colour_of = ? AND colour = ?').get(serviceId, colour) as ServiceRow | undefined;
    return row ? toService(row) : null;
  }

  setLiveColour(serviceId: number, colour: string): void {
    this.db.prepare('UPDATE services SET live_colour = ? WHERE id = ?').run(colour, serviceId);
  }

  setSteady(id: number, steady: boolean): void {
    this.db.prepare('UPDATE services SET steady = ? WHERE id = ?').run(steady ? 1 : 0, id);
  }

  delete(id: number): void {
    this.db.prepare('DELETE FROM services WHERE id = ?').run(id);
  }
}
