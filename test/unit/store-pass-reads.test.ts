import { describe, expect, it } from 'vitest';
import { parseDefinition } from '../../src/domain/definition.js';
import { DEFAULT_HEALTH_CHECK } from '../../src/domain/health-check.js';
import { openDatabase } from '../../src/store/database.js';
import { Store } from '../../src/store/store.js';

const definition = (image: string) =>
  parseDefinition({ image, 'memory-reservation': 16, 'memory-limit': 32, 'container-port': 80, environment: [] });

function newStore(): Store {
  const store = new Store(openDatabase(':memory:'), { now: () => Date.now() });
  store.projects.create('exp');
  return store;
}

describe('what a reconcile pass reads from the store', () => {
  it('counts every write and no read, so an equal count means the rows read are still current', () => {
    const store = newStore();
    const service = store.services.create('exp', 'web', DEFAULT_HEALTH_CHECK);
    const before = store.changes();
    store.services.listAll();
    store.revisions.currentOfAll();
    expect(store.changes()).toBe(before);
    store.services.setSteady(service.id, true);
    expect(store.changes()).toBeGreaterThan(before);
  });

  it('gives each service its serving revision in one query, and none for a service not serving yet', () => {
    const store = newStore();
    const web = store.services.create('exp', 'web', DEFAULT_HEALTH_CHECK);
    const api = store.services.create('exp', 'api', DEFAULT_HEALTH_CHECK);
    store.services.create('exp', 'new', DEFAULT_HEALTH_CHECK);
    store.revisions.add(web.id, definition('web:1'));
    store.revisions.add(web.id, definition('web:2'));
    store.revisions.add(api.id, definition('api:1'));
    store.services.setCurrentRevision(web.id, 2);
    store.services.setCurrentRevision(api.id, 1);
    const serving = store.revisions
      .currentOfAll()
      .map((r) => `${r.serviceId}:${r.number}:${r.definition.image}`)
      .sort();
    expect(serving).toEqual([`${web.id}:2:web:2`, `${api.id}:1:api:1`].sort());
  });
});
