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
    const old = new Store(first, clock);
    old.projects.create('exp');
    const web = old.services.create('exp', 'web', DEFAULT_HEALTH_CHECK);
    first.close();

    const db = openDatabase(file);
    const store = new Store(db, clock);
    expect(db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
    expect(store.services.byId(web.id)?.name).toBe('web');
    expect(store.services.versions()).toEqual([[web.id, 0]]);
    store.services.setSteady(web.id, true);
    expect(store.services.versions()).toEqual([[web.id, 1]]);
    db.close();
    // Opening it again applies nothing twice.
    const again = openDatabase(file);
    expect(new Store(again, clock).services.versions()).toEqual([[web.id, 1]]);
    again.close();
  });
});
