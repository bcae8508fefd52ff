import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDefinition } from '../../src/domain/definition.js';
import { DEFAULT_HEALTH_CHECK } from '../../src/domain/health-check.js';
import { PassReads } from '../../src/reconciler/pass-reads.js';
import { openDatabase } from '../../src/store/database.js';
import { Store } from '../../src/store/store.js';

const definition = (image: string) =>
  parseDefinition({ image, 'memory-reservation': 16, 'memory-limit': 32, 'container-port': 80, environment: [] });

const now = 1_000_000;
const clock = { now: () => now };

function newStore(): Store {
  const store = new Store(openDatabase(':memory:'), clock);
  store.projects.create('exp');
  return store;
}

describe('what a reconcile pass reads from the store', () => {
  it('counts every write to services, revisions and deployments and no read, and nothing else', () => {
    const store = newStore();
    const service = store.services.create('exp', 'web', DEFAULT_HEALTH_CHECK);
    const before = store.counters();
    new PassReads(store).read();
    store.events.add(service.id, 'an event is no change to the service');
    expect(store.counters()).toEqual(before);
    store.services.setSteady(service.id, true);
    const afterUpdate = store.counters().services;
    expect(afterUpdate).toBeGreaterThan(before.services);
    store.revisions.add(service.id, definition('web:1'));
    store.deployments.create(service.id, 1, null);
    expect(store.counters()).toEqual({ services: afterUpdate + 2, jobs: before.jobs, databases: before.databases });
  });

  it('moves a service row’s version on every update of it, and only of it', () => {
    const store = newStore();
    const web = store.services.create('exp', 'web', DEFAULT_HEALTH_CHECK);
    const api = store.services.create('exp', 'api', DEFAULT_HEALTH_CHECK);
    const before = new Map(store.services.versions());
    store.services.recordCrash(web.id, now, 'exit 1');
    store.services.setSteady(web.id, false);
    const after = new Map(store.services.versions());
    expect(after.get(web.id)).toBe((before.get(web.id) ?? 0) + 2);
    expect(after.get(api.id)).toBe(before.get(api.id));
  });

  it('keeps what it read until the next write, then reads again only the services that changed', () => {
    const store = newStore();
    const web = store.services.create('exp', 'web', DEFAULT_HEALTH_CHECK);
    const api = store.services.create('exp', 'api', DEFAULT_HEALTH_CHECK);
    const reads = new PassReads(store);
    const first = reads.read();
    expect(reads.read()).toBe(first);
    store.revisions.add(web.id, definition('web:1'));
    store.services.setCurrentRevision(web.id, 1);
    const second = reads.read();
    expect(second).not.toBe(first);
    expect(second.services.map((s) => [s.name, s.currentRevision])).toEqual([
      ['web', 1],
      ['api', null],
    ]);
    expect(second.byService.get(web.id)?.serving?.image).toBe('web:1');
    expect(second.byService.get(api.id)).toBe(first.byService.get(api.id));
  });

  it('gives a service the definition it serves now, and drops a deleted service', () => {
    const store = newStore();
    const web = store.services.create('exp', 'web', DEFAULT_HEALTH_CHECK);
    const old = store.services.create('exp', 'old', DEFAULT_HEALTH_CHECK);
    store.revisions.add(web.id, definition('web:1'));
    store.revisions.add(web.id, definition('web:2'));
    store.services.setCurrentRevision(web.id, 1);
    const reads = new PassReads(store);
    expect(reads.read().byService.get(web.id)?.serving?.image).toBe('web:1');
    store.services.setCurrentRevision(web.id, 2);
    store.services.delete(old.id);
    const after = reads.read();
    expect(after.byService.get(web.id)?.serving?.image).toBe('web:2');
    expect(after.services.map((s) => s.name)).toEqual(['web']);
  });

  it('gives each service its unfinished deployments, oldest first, and none once they finish', () => {
    const store = newStore();
    const web = store.services.create('exp', 'web', DEFAULT_HEALTH_CHECK);
    const api = store.services.create('exp', 'api', DEFAULT_HEALTH_CHECK);
    store.revisions.add(web.id, definition('web:1'));
    store.revisions.add(web.id, definition('web:2'));
    store.revisions.add(api.id, definition('api:1'));
    const webFirst = store.deployments.create(web.id, 1, null);
    store.deployments.create(web.id, 2, null);
    const apiFirst = store.deployments.create(api.id, 1, null);
    const reads = new PassReads(store);
    expect(reads.read().openDeployments.get(web.id)?.map((d) => d.revision)).toEqual([1, 2]);
    store.deployments.rollBack(apiFirst, 'cancelled', 'by hand');
    store.deployments.advance(store.deployments.get(apiFirst.id)!, 'cancelled');
    expect(reads.read().openDeployments.has(api.id)).toBe(false);
    expect(reads.read().openDeployments.get(web.id)?.[0]?.id).toBe(webFirst.id);
  });

  it('does not keep rows read inside a transaction that is then rolled back', () => {
    const store = newStore();
    const web = store.services.create('exp', 'web', DEFAULT_HEALTH_CHECK);
    const reads = new PassReads(store);
    reads.read();
    expect(() =>
      store.transaction(() => {
        store.services.create('exp', 'ghost', DEFAULT_HEALTH_CHECK);
        store.services.recordCrash(web.id, now, 'exit 1');
        expect(reads.read().services.map((s) => s.name)).toEqual(['web', 'ghost']);
        throw new Error('abort');
      }),
    ).toThrow('abort');
    const after = reads.read();
    expect(after.services.map((s) => [s.name, s.crashCount])).toEqual([['web', 0]]);
  });

  it('sees a change made to the database by hand at the next read', () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-reads-'));
    try {
      const file = join(dir, 'berth.db');
      const store = new Store(openDatabase(file), clock);
      store.projects.create('exp');
      const web = store.services.create('exp', 'web', DEFAULT_HEALTH_CHECK);
      const reads = new PassReads(store);
      reads.read();
      const byHand = new Database(file);
      byHand.prepare('UPDATE services SET steady = 1 WHERE id = ?').run(web.id);
      byHand.close();
      expect(reads.read().services[0]?.steady).toBe(true);
      store.db.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
