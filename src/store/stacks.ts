import type { ComposeFile } from '../domain/compose/load.js';
import { stackFileKey, type StackSpec } from '../domain/compose/stack-spec.js';
import { ConflictError } from '../domain/errors.js';
import type { Clock } from '../domain/model.js';
import type { Db } from './database.js';

/** What `berth compose` sent: enough to read the stack again (`compose config`). */
export interface StackSource {
  readonly files: readonly ComposeFile[];
  /** Names of the variables it was interpolated with; their values may be secrets and are not kept. */
  readonly variables: readonly string[];
  readonly directory: string;
  readonly profiles: readonly string[];
}

export interface Stack {
  readonly id: number;
  readonly project: string;
  readonly name: string;
  readonly revision: number;
  readonly source: StackSource;
  readonly spec: StackSpec;
  readonly status: 'ACTIVE' | 'DRAINING';
  /** Set by `down -v`: its volumes go with it. */
  readonly removeVolumes: boolean;
  readonly createdAt: number;
  readonly updatedAt: number;
}

interface StackRow {
  id: number;
  project: string;
  name: string;
  revision: number;
  source: string;
  spec: string;
  status: 'ACTIVE' | 'DRAINING';
  remove_volumes: number;
  created_at: number;
  updated_at: number;
}

function toStack(row: StackRow): Stack {
  return {
    id: row.id,
    project: row.project,
    name: row.name,
    revision: row.revision,
    source: JSON.parse(row.source) as StackSource,
    spec: JSON.parse(row.spec) as StackSpec,
    status: row.status,
    removeVolumes: row.remove_volumes === 1,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** Stacks, the files (secrets, configs) their tasks mount, and projects' own networks and volumes. */
export class StackRepository {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
  ) {}

  /** Stores a new revision of the stack's files; the first makes it. */
  save(project: string, name: string, source: StackSource, spec: StackSpec): Stack {
    const now = this.clock.now();
    const existing = this.find(project, name);
    if (existing?.status === 'DRAINING') throw new ConflictError(`Stack '${name}' is being taken down`);
    if (existing) {
      this.db
        .prepare('UPDATE stacks SET revision = revision + 1, source = ?, spec = ?, updated_at = ? WHERE id = ?')
        .run(JSON.stringify(source), JSON.stringify(spec), now, existing.id);
      return this.byId(existing.id) as Stack;
    }
    const info = this.db
      .prepare("INSERT INTO stacks (project, name, revision, source, spec, status, created_at, updated_at) VALUES (?, ?, 1, ?, ?, 'ACTIVE', ?, ?)")
      .run(project, name, JSON.stringify(source), JSON.stringify(spec), now, now);
    return this.byId(Number(info.lastInsertRowid)) as Stack;
  }

  /** The stack, made empty (revision 0, no services) when it does not exist: `compose build` before the first `up`. */
  ensure(project: string, name: string): Stack {
    const existing = this.find(project, name);
    if (existing?.status === 'DRAINING') throw new ConflictError(`Stack '${name}' is being taken down`);
    if (existing) return existing;
    const now = this.clock.now();
    const source: StackSource = { files: [], variables: [], directory: '/', profiles: [] };
    const spec: StackSpec = { services: [], networks: [], volumes: [], files: [] };
    const info = this.db
      .prepare("INSERT INTO stacks (project, name, revision, source, spec, status, created_at, updated_at) VALUES (?, ?, 0, ?, ?, 'ACTIVE', ?, ?)")
      .run(project, name, JSON.stringify(source), JSON.stringify(spec), now, now);
    return this.byId(Number(info.lastInsertRowid)) as Stack;
  }

  find(project: string, name: string): Stack | null {
    const row = this.db.prepare('SELECT * FROM stacks WHERE project = ? AND name = ?').get(project, name) as StackRow | undefined;
    return row ? toStack(row) : null;
  }

  byId(id: number): Stack | null {
    const row = this.db.prepare('SELECT * FROM stacks WHERE id = ?').get(id) as StackRow | undefined;
    return row ? toStack(row) : null;
  }

  listByProject(project: string): Stack[] {
    return (this.db.prepare('SELECT * FROM stacks WHERE project = ? ORDER BY name').all(project) as StackRow[]).map(toStack);
  }

  listAll(): Stack[] {
    return (this.db.prepare('SELECT * FROM stacks ORDER BY id').all() as StackRow[]).map(toStack);
  }

  takeDown(id: number, removeVolumes: boolean): void {
    this.db.prepare("UPDATE stacks SET status = 'DRAINING', remove_volumes = ?, updated_at = ? WHERE id = ?").run(removeVolumes ? 1 : 0, this.clock.now(), id);
  }

  delete(id: number): void {
    this.db.prepare('DELETE FROM stacks WHERE id = ?').run(id);
  }

  /** Replaces the stack's files: secrets and configs by name. */
  setFiles(stackId: number, files: Readonly<Record<string, string>>): void {
    this.db.prepare('DELETE FROM stack_files WHERE stack_id = ?').run(stackId);
    const insert = this.db.prepare('INSERT INTO stack_files (stack_id, name, content) VALUES (?, ?, ?)');
    for (const [name, content] of Object.entries(files)) insert.run(stackId, name, content);
  }

  /**
   * Moves secrets that a server before secrets were sealed kept here in plain text into `seal`,
   * each row gone once sealed, its bytes overwritten in the file (secure_delete). One
   * transaction: a crash leaves every one here or every one sealed.
   */
  sealPlainSecrets(seal: (stackId: number, name: string, value: string) => void): number {
    const prefix = stackFileKey('secret', '');
    const rows = this.db.prepare('SELECT stack_id, name, content FROM stack_files WHERE substr(name, 1, ?) = ?').all(prefix.length, prefix) as { stack_id: number; name: string; content: string }[];
    if (rows.length === 0) return 0;
    const secureDelete = this.db.pragma('secure_delete', { simple: true }) as number;
    this.db.pragma('secure_delete = ON');
    try {
      this.db.transaction(() => {
        for (const row of rows) {
          seal(row.stack_id, row.name.slice(prefix.length), row.content);
          this.db.prepare('DELETE FROM stack_files WHERE stack_id = ? AND name = ?').run(row.stack_id, row.name);
        }
      })();
    } finally {
      this.db.pragma(`secure_delete = ${secureDelete ? 'ON' : 'OFF'}`);
    }
    return rows.length;
  }

  files(stackId: number): Record<string, string> {
    const rows = this.db.prepare('SELECT name, content FROM stack_files WHERE stack_id = ? ORDER BY name').all(stackId) as { name: string; content: string }[];
    return Object.fromEntries(rows.map((r) => [r.name, r.content]));
  }
}

/** A project's own networks or volumes (`berth network create`, `berth volume create`). */
export class ProjectResourceRepository {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly table: 'project_networks' | 'project_volumes',
  ) {}

  create(project: string, name: string): void {
    const row = this.db.prepare(`SELECT deleting FROM ${this.table} WHERE project = ? AND name = ?`).get(project, name) as { deleting: number } | undefined;
    const what = `${this.table === 'project_networks' ? 'Network' : 'Volume'} '${name}'`;
    if (row) throw new ConflictError(row.deleting ? `${what} is being removed; try again in a moment` : `${what} exists`);
    this.db.prepare(`INSERT INTO ${this.table} (project, name, created_at) VALUES (?, ?, ?)`).run(project, name, this.clock.now());
  }

  /** Whether the project has it, and it is not being removed. */
  exists(project: string, name: string): boolean {
    return this.db.prepare(`SELECT 1 FROM ${this.table} WHERE project = ? AND name = ? AND deleting = 0`).get(project, name) !== undefined;
  }

  list(project: string): { name: string; createdAt: number }[] {
    const rows = this.db.prepare(`SELECT name, created_at FROM ${this.table} WHERE project = ? AND deleting = 0 ORDER BY name`).all(project) as { name: string; created_at: number }[];
    return rows.map((r) => ({ name: r.name, createdAt: r.created_at }));
  }

  /** Those being removed, for the reconciler to take off the runtime. */
  deleting(): { project: string; name: string }[] {
    return this.db.prepare(`SELECT project, name FROM ${this.table} WHERE deleting = 1 ORDER BY project, name`).all() as { project: string; name: string }[];
  }

  /** The first half of a removal, which the reconciler finishes (a crash between the two resumes it). */
  markDeleting(project: string, name: string): boolean {
    return this.db.prepare(`UPDATE ${this.table} SET deleting = 1 WHERE project = ? AND name = ? AND deleting = 0`).run(project, name).changes === 1;
  }

  delete(project: string, name: string): void {
    this.db.prepare(`DELETE FROM ${this.table} WHERE project = ? AND name = ?`).run(project, name);
  }
}
