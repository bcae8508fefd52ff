import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_HEALTH_CHECK } from '../../src/domain/health-check.js';
import { openDatabase } from '../../src/store/database.js';
import { MIGRATIONS } from '../../src/store/migrations.js';
import { Store } from '../../src/store/store.js';

const clock = { now: () => 1_000 };
let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'berth-migrations-'));
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('the store’s migrations', () => {
  it('upgrade a database of the first schema in place, keeping its services, which then count their updates', () => {
    const file = join(dir, 'berth.db');
    const first = openDatabase(file, MIGRATIONS.slice(0, 1));
    // Written as the first schema's code wrote it.
    new Store(first, clock).projects.create('exp');
    const id = Number(
      first
        .prepare("INSERT INTO services (project, name, health_check, status, created_at) VALUES ('exp', 'a-web', ?, 'INACTIVE', 0)")
        .run(JSON.stringify(DEFAULT_HEALTH_CHECK)).lastInsertRowid,
    );
    first.close();

    const db = openDatabase(file);
    const store = new Store(db, clock);
    expect(db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
    expect(store.services.byId(id)?.name).toBe('a-web');
    const [[, version]] = store.services.versions() as [[number, number]];
    store.services.setSteady(id, true);
    expect(store.services.versions()).toEqual([[id, version + 1]]);
    // Its address counts for the rule that addresses are unique across projects.
    store.projects.create('exp-a');
    expect(() => store.services.create('exp-a', 'web', DEFAULT_HEALTH_CHECK)).toThrow(/another project's service already uses/);
    db.close();
    // Opening it again applies nothing twice.
    const again = openDatabase(file);
    expect(new Store(again, clock).services.versions()).toEqual([[id, version + 1]]);
    again.close();
  });
});
