/**
 * Numbered schema migrations. Each runs in one transaction together with the
 * bump of `user_version`, so a crash leaves the schema at one version or the
 * next, never between. Never edit a released migration; add one.
 * Times are integer milliseconds since the epoch.
 */
export interface Migration {
  readonly version: number;
  readonly sql: string;
}

/** Triggers that count every insert, update and delete of the tables under one change counter. */
function countChanges(counter: string, tables: readonly string[]): string {
  return tables
    .flatMap((table) =>
      ['INSERT', 'UPDATE', 'DELETE'].map(
        (op) => `CREATE TRIGGER ${table}_${op.toLowerCase()}_counted AFTER ${op} ON ${table} BEGIN UPDATE change_counters SET n = n + 1 WHERE name = '${counter}'; END;`,
      ),
    )
    .join('\n');
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

      CREATE TABLE projects (
        name TEXT PRIMARY KEY,
        created_at INTEGER NOT NULL
      );

      CREATE TABLE tokens (
        id TEXT PRIMARY KEY,
        project TEXT NOT NULL REFERENCES projects(name) ON DELETE CASCADE,
        secret_hash BLOB NOT NULL,
        created_at INTEGER NOT NULL
      );

      CREATE TABLE services (
        id INTEGER PRIMARY KEY,
        project TEXT NOT NULL REFERENCES projects(name),
        name TEXT NOT NULL,
        health_check TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('INACTIVE', 'ACTIVE', 'DRAINING')),
        current_revision INTEGER,
        crash_count INTEGER NOT NULL DEFAULT 0,
        last_crash_at INTEGER,
        last_exit TEXT,
        steady INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL,
        UNIQUE (project, name)
      );

      CREATE TABLE revisions (
        service_id INTEGER NOT NULL REFERENCES services(id) ON DELETE CASCADE,
        number INTEGER NOT NULL,
        definition TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('PENDING', 'ACTIVE', 'INACTIVE', 'FAILED')),
        created_at INTEGER NOT NULL,
        PRIMARY KEY (service_id, number)
      );

      CREATE TABLE deployments (
        id INTEGER PRIMARY KEY,
        service_id INTEGER NOT NULL REFERENCES services(id) ON DELETE CASCADE,
        revision INTEGER NOT NULL,
        previous_revision INTEGER,
        step TEXT NOT NULL,
        reason TEXT,
        -- the terminal step a rollback ends in: failed, cancelled or superseded
        rollback_to TEXT,
        step_started_at INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        finished_at INTEGER
      );
      CREATE INDEX deployments_open ON deployments(service_id) WHERE finished_at IS NULL;

      CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        service_id INTEGER NOT NULL REFERENCES services(id) ON DELETE CASCADE,
        deployment_id INTEGER,
        created_at INTEGER NOT NULL,
        message TEXT NOT NULL
      );
      CREATE INDEX events_by_service ON events(service_id, id);

      CREATE TABLE task_logs (
        service_id INTEGER NOT NULL REFERENCES services(id) ON DELETE CASCADE,
        task_name TEXT NOT NULL,
        revision INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        stopped_at INTEGER NOT NULL,
        exit_code INTEGER,
        lines TEXT NOT NULL,
        PRIMARY KEY (service_id, task_name)
      );

      CREATE TABLE registry_credentials (
        user TEXT PRIMARY KEY,
        service_id INTEGER NOT NULL REFERENCES services(id) ON DELETE CASCADE,
        secret_hash BLOB NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        revoked_at INTEGER
      );

      CREATE TABLE audit (
        id INTEGER PRIMARY KEY,
        at INTEGER NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT NOT NULL,
        detail TEXT
      );
    `,
  },
  {
    version: 2,
    // Each service row counts its own updates, so that a reconcile pass reads again only
    // the rows that changed (ADR 007). A trigger, so that no write can forget it.
    sql: `
      ALTER TABLE services ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
      CREATE TRIGGER services_version AFTER UPDATE ON services
        FOR EACH ROW WHEN NEW.version = OLD.version
      BEGIN
        UPDATE services SET version = OLD.version + 1 WHERE id = NEW.id;
      END;
    `,
  },
  {
    version: 3,
    // A service's address, <project>-<service>, is unique across projects: project "a" with
    // service "b-c" and project "a-b" with service "c" would share /a-b-c. Not a UNIQUE index:
    // a store written before this rule may hold such a pair, which must still open (the
    // gateway serves the older one's route and reports the other's).
    sql: `
      ALTER TABLE services ADD COLUMN qualified_name TEXT;
      UPDATE services SET qualified_name = project || '-' || name;
      CREATE INDEX services_qualified_name ON services(qualified_name);
    `,
  },
  {
    version: 4,
    // Deployments name their strategy's step table. Change counters, kept by triggers so no
    // write can forget them, tell a reconcile pass which kind of workload's rows changed
    // (ADR 009). Jobs: work that runs to completion, its attempts and events.
    sql: `
      ALTER TABLE deployments ADD COLUMN strategy TEXT NOT NULL DEFAULT 'start-first';

      CREATE TABLE change_counters (name TEXT PRIMARY KEY, n INTEGER NOT NULL);
      INSERT INTO change_counters (name, n) VALUES ('services', 0), ('jobs', 0);
${countChanges('services', ['services', 'revisions', 'deployments'])}

      CREATE TABLE jobs (
        id INTEGER PRIMARY KEY,
        project TEXT NOT NULL REFERENCES projects(name),
        service_id INTEGER REFERENCES services(id) ON DELETE SET NULL,
        schedule_id INTEGER REFERENCES jobs(id) ON DELETE SET NULL,
        spec TEXT NOT NULL,
        schedule TEXT,
        status TEXT NOT NULL CHECK (status IN ('scheduled', 'queued', 'running', 'succeeded', 'failed', 'cancelled', 'timed-out')),
        cancel_requested INTEGER NOT NULL DEFAULT 0,
        attempts INTEGER NOT NULL DEFAULT 0,
        exit_code INTEGER,
        reason TEXT,
        progress TEXT,
        not_before INTEGER,
        created_at INTEGER NOT NULL,
        started_at INTEGER,
        finished_at INTEGER
      );
      CREATE INDEX jobs_open ON jobs(id) WHERE finished_at IS NULL;
      CREATE INDEX jobs_by_project ON jobs(project, id);
      CREATE INDEX jobs_by_schedule ON jobs(schedule_id, id);

      CREATE TABLE job_attempts (
        job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
        number INTEGER NOT NULL,
        task_name TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('creating', 'running', 'finished')),
        started_at INTEGER NOT NULL,
        finished_at INTEGER,
        exit_code INTEGER,
        oom_killed INTEGER NOT NULL DEFAULT 0,
        outcome TEXT,
        lines TEXT,
        PRIMARY KEY (job_id, number)
      );

      CREATE TABLE job_events (
        id INTEGER PRIMARY KEY,
        job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
        created_at INTEGER NOT NULL,
        message TEXT NOT NULL
      );
      CREATE INDEX job_events_by_job ON job_events(job_id, id);
${countChanges('jobs', ['jobs', 'job_attempts'])}
    `,
  },
  {
    version: 5,
    // Stacks: a project's compose files, each service of one a service row of its own (so that
    // servicectl clients see it), with what a user asked of it by start, stop or kill. Projects'
    // own networks and volumes, which stacks join as external ones.
    sql: `
      CREATE TABLE stacks (
        id INTEGER PRIMARY KEY,
        project TEXT NOT NULL REFERENCES projects(name),
        name TEXT NOT NULL,
        revision INTEGER NOT NULL,
        source TEXT NOT NULL,
        spec TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('ACTIVE', 'DRAINING')),
        remove_volumes INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        UNIQUE (project, name)
      );
      CREATE TABLE stack_files (
        stack_id INTEGER NOT NULL REFERENCES stacks(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        content TEXT NOT NULL,
        PRIMARY KEY (stack_id, name)
      );
      ALTER TABLE services ADD COLUMN stack_id INTEGER REFERENCES stacks(id);
      ALTER TABLE services ADD COLUMN desired_state TEXT NOT NULL DEFAULT 'running';
      -- restart: tasks made before this time are replaced; kill: a signal for the tasks made before kill_at.
      ALTER TABLE services ADD COLUMN restart_at INTEGER;
      ALTER TABLE services ADD COLUMN kill_signal TEXT;
      ALTER TABLE services ADD COLUMN kill_at INTEGER;
      CREATE INDEX services_by_stack ON services(stack_id) WHERE stack_id IS NOT NULL;
      CREATE TABLE project_networks (
        project TEXT NOT NULL REFERENCES projects(name),
        name TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        -- Removed through the API: the reconciler removes it from the runtime, then the row.
        deleting INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (project, name)
      );
      CREATE TABLE project_volumes (
        project TEXT NOT NULL REFERENCES projects(name),
        name TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        -- Removed through the API: the reconciler removes it from the runtime, then the row.
        deleting INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (project, name)
      );
${countChanges('services', ['stacks', 'project_networks', 'project_volumes'])}
    `,
  },
  {
    version: 6,
    // Colours (ADR 011): each colour of a service is a service row of its own (name
    // '<service>.<colour>', which no service name can be, and no address of its own), so that it
    // keeps its own revisions, deployments, tasks and events; the service's row says which
    // colour is live.
    sql: `
      ALTER TABLE services ADD COLUMN colour TEXT;
      ALTER TABLE services ADD COLUMN colour_of INTEGER REFERENCES services(id);
      ALTER TABLE services ADD COLUMN live_colour TEXT;
      CREATE UNIQUE INDEX services_colours ON services(colour_of, colour) WHERE colour_of IS NOT NULL;
    `,
  },
  {
    version: 7,
    // Secrets sealed with the key file's keys (src/secrets), deleted with their owner. Managed
    // databases, their events, backups and restores; a database's rows count as one change counter.
    sql: `
      CREATE TABLE secrets (
        owner TEXT NOT NULL,
        name TEXT NOT NULL,
        key_id TEXT NOT NULL,
        sealed BLOB NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (owner, name)
      );
      CREATE INDEX secrets_by_key ON secrets(key_id);
      CREATE TRIGGER revisions_secrets_gone AFTER DELETE ON revisions
      BEGIN DELETE FROM secrets WHERE owner = 'revision:' || OLD.service_id || ':' || OLD.number; END;
      CREATE TRIGGER stacks_secrets_gone AFTER DELETE ON stacks
      BEGIN DELETE FROM secrets WHERE owner = 'stack:' || OLD.id; END;

      CREATE TABLE databases (
        id INTEGER PRIMARY KEY,
        project TEXT NOT NULL REFERENCES projects(name),
        name TEXT NOT NULL,
        engine TEXT NOT NULL CHECK (engine IN ('postgres', 'redis')),
        status TEXT NOT NULL CHECK (status IN ('ACTIVE', 'REMOVED', 'DELETING')),
        definition TEXT NOT NULL,
        revision INTEGER NOT NULL,
        serving TEXT,
        serving_revision INTEGER,
        -- the stop-first step a change of definition is at; null when none runs
        step TEXT,
        step_started_at INTEGER NOT NULL,
        reason TEXT,
        delete_data INTEGER NOT NULL DEFAULT 0,
        backup_schedule TEXT,
        backups_kept INTEGER NOT NULL,
        next_backup_at INTEGER,
        crash_count INTEGER NOT NULL DEFAULT 0,
        last_crash_at INTEGER,
        created_at INTEGER NOT NULL,
        UNIQUE (project, name)
      );
      CREATE TRIGGER databases_secrets_gone AFTER DELETE ON databases
      BEGIN DELETE FROM secrets WHERE owner = 'database:' || OLD.id; END;
      CREATE TABLE database_events (
        id INTEGER PRIMARY KEY,
        database_id INTEGER NOT NULL REFERENCES databases(id) ON DELETE CASCADE,
        created_at INTEGER NOT NULL,
        message TEXT NOT NULL
      );
      CREATE INDEX database_events_by_database ON database_events(database_id, id);
      CREATE TABLE backups (
        id INTEGER PRIMARY KEY,
        database_id INTEGER NOT NULL REFERENCES databases(id) ON DELETE CASCADE,
        status TEXT NOT NULL CHECK (status IN ('queued', 'taking', 'verifying', 'verified', 'failed')),
        trigger TEXT NOT NULL,
        format TEXT NOT NULL,
        file TEXT,
        size INTEGER,
        sha256 TEXT,
        counts TEXT,
        dump_ms INTEGER,
        verify_ms INTEGER,
        reason TEXT,
        created_at INTEGER NOT NULL,
        taken_at INTEGER,
        finished_at INTEGER
      );
      CREATE INDEX backups_by_database ON backups(database_id, id);
      CREATE TABLE database_restores (
        id INTEGER PRIMARY KEY,
        database_id INTEGER NOT NULL REFERENCES databases(id) ON DELETE CASCADE,
        backup_id INTEGER,
        file TEXT NOT NULL,
        format TEXT NOT NULL,
        size INTEGER NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('queued', 'loading', 'swapping', 'succeeded', 'failed')),
        reason TEXT,
        created_at INTEGER NOT NULL,
        finished_at INTEGER
      );
      CREATE INDEX database_restores_by_database ON database_restores(database_id, id);
      INSERT INTO change_counters (name, n) VALUES ('databases', 0);
${countChanges('databases', ['databases', 'backups', 'database_restores'])}
    `,
  },
  {
    version: 8,
    // A restore's swap leaves the old data as a database of its own, dropped once the restore has
    // been reported succeeded (ADR 013); the name stays here until it is gone, so a crash does
    // not orphan it.
    sql: `ALTER TABLE database_restores ADD COLUMN leftover TEXT;`,
  },
  {
    version: 9,
    // An upload to PostgreSQL loads while it arrives (ADR 013); until it is whole on disk the
    // restore is never swapped in, and one a crash cut short fails at the next start.
    sql: `ALTER TABLE database_restores ADD COLUMN receiving INTEGER NOT NULL DEFAULT 0;`,
  },
];
