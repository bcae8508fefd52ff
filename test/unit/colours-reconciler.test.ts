import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ColourUnhealthyError } from '../../src/domain/colours.js';
import type { Service } from '../../src/domain/model.js';
import type { Route } from '../../src/gateway/gateway.js';
import { ReconcilerHarness } from '../support/reconciler-harness.js';

let h: ReconcilerHarness;
let nmpi: Service;

beforeEach(() => {
  h = new ReconcilerHarness();
  nmpi = h.createService('nmpi');
});

afterEach(async () => {
  await h.close();
});

function colour(name: string): Service {
  return h.store.transaction(() => h.store.services.createColour(h.store.services.byId(nmpi.id) as Service, name));
}

function route(): Route | undefined {
  return h.gateway.last().find((r) => r.prefix === '/exp-nmpi');
}

const addresses = (name: string): string[] => h.runtime.running({ 'io.berth.colour': name }).map((c) => c.address as string);
const hosts = (targets: readonly { host: string }[] | undefined): string[] => (targets ?? []).map((t) => t.host).sort();

/** Blue (live, 2 tasks) and green (1 task), both deployed and routed. */
async function blueAndGreen(): Promise<{ blue: Service; green: Service }> {
  const blue = colour('blue');
  expect((await h.finished(h.put(blue, { replicas: 2 }))).step).toBe('succeeded');
  const green = colour('green');
  expect((await h.finished(h.put(green, { image: 'demo:2' }))).step).toBe('succeeded');
  await h.until('both colours routed', () => route()?.colours?.every((c) => c.targets.length > 0) && route()?.colours?.length === 2);
  return { blue, green };
}

describe('colours in the reconciler', () => {
  it('runs each colour as its own tasks, under the service’s address, and routes the first colour live', async () => {
    const { blue, green } = await blueAndGreen();
    const tasks = h.runtime.running({ 'io.berth.service': 'nmpi' });
    expect(tasks).toHaveLength(3);
    for (const task of tasks) {
      const name = task.spec.labels['io.berth.colour'];
      expect(task.spec.labels['io.berth.task']).toMatch(new RegExp(`^nmpi-${name}-[0-9a-f]{4}$`));
      expect(task.spec.env).toContain('CONTEXT_ROOT=/exp-nmpi');
      expect(task.spec.labels['io.berth.service-id']).toBe(String(name === 'blue' ? blue.id : green.id));
    }
    expect(hosts(route()?.targets)).toEqual(addresses('blue').sort());
    expect(route()?.colours?.map((c) => [c.colour, hosts(c.targets)])).toEqual([
      ['blue', addresses('blue').sort()],
      ['green', addresses('green')],
    ]);
    // Every colour's tasks are probed at the service's health check path.
    expect(h.store.services.byId(nmpi.id)?.liveColour).toBe('blue');
    expect(h.store.services.byId(green.id)?.currentRevision).toBe(1);
  });

  it('switches live traffic in one table write, records it only after the gateway has it, and switches back', async () => {
    await blueAndGreen();
    const before = h.gateway.tables.length;
    const seen: Route[][] = [];
    await h.reconciler.colours.switchLive(h.store.services.byId(nmpi.id) as Service, 'green', {
      force: false,
      commit: () => {
        seen.push(h.gateway.last());
        h.store.services.setLiveColour(nmpi.id, 'green');
      },
    });
    expect(h.gateway.tables.length).toBe(before + 1);
    expect(hosts(seen[0]?.find((r) => r.prefix === '/exp-nmpi')?.targets)).toEqual(addresses('green'));
    // The next passes make the same table from the store: nothing more is written.
    for (let i = 0; i < 3; i++) await h.pass();
    expect(h.gateway.tables.length).toBe(before + 1);
    expect(hosts(route()?.targets)).toEqual(addresses('green'));

    await h.reconciler.colours.switchLive(h.store.services.byId(nmpi.id) as Service, 'blue', { force: false, commit: () => h.store.services.setLiveColour(nmpi.id, 'blue') });
    expect(hosts(route()?.targets)).toEqual(addresses('blue').sort());
    // The colour left is untouched: it keeps running for the next switch.
    expect(addresses('green')).toHaveLength(1);
  });

  it('puts the table back when the store does not take the switch', async () => {
    await blueAndGreen();
    const failing = h.reconciler.colours.switchLive(h.store.services.byId(nmpi.id) as Service, 'green', {
      force: false,
      commit: () => {
        throw new Error('disk full');
      },
    });
    await expect(failing).rejects.toThrow('disk full');
    expect(hosts(route()?.targets)).toEqual(addresses('green'));
    await h.pass();
    expect(hosts(route()?.targets)).toEqual(addresses('blue').sort());
  });

  it('refuses a colour without a healthy task unless forced', async () => {
    await blueAndGreen();
    const green = h.runtime.running({ 'io.berth.colour': 'green' })[0];
    h.health.failing.add(green?.spec.labels['io.berth.task'] as string);
    h.health.changed();
    await h.until('green out of the table', () => route()?.colours?.find((c) => c.colour === 'green')?.targets.length === 0);
    let committed = 0;
    const service = h.store.services.byId(nmpi.id) as Service;
    await expect(h.reconciler.colours.switchLive(service, 'green', { force: false, commit: () => committed++ })).rejects.toBeInstanceOf(ColourUnhealthyError);
    expect(committed).toBe(0);
    expect(hosts(route()?.targets)).toEqual(addresses('blue').sort());
    await h.reconciler.colours.switchLive(service, 'green', { force: true, commit: () => committed++ });
    expect(committed).toBe(1);
    expect(route()?.targets).toEqual([]);
  });

  it('keeps an image another colour still runs when a colour prunes its old revisions', async () => {
    // Tags in the service's own repository: every colour's images are the service's.
    for (const tag of ['shared', 'g2', 'g3']) h.runtime.images.add(`repo/exp/nmpi:${tag}`);
    const blue = colour('blue');
    expect((await h.finished(h.put(blue, { image: undefined, 'container-tag': 'shared' }))).step).toBe('succeeded');
    const green = colour('green');
    for (const tag of ['shared', 'g2', 'g3']) expect((await h.finished(h.put(green, { image: undefined, 'container-tag': tag }))).step).toBe('succeeded');
    // Green keeps its two newest (g2, g3); 'shared' is beyond them, but blue serves it.
    expect(h.runtime.images.has('repo/exp/nmpi:shared')).toBe(true);
    expect(h.runtime.images.has('repo/exp/nmpi:g3')).toBe(true);
  });

  it('removes a terminated colour and its line, keeping the service’s repository; a deleted service goes after its colours', async () => {
    const { blue, green } = await blueAndGreen();
    h.store.services.setStatus(green.id, 'DRAINING');
    await h.until('green gone', () => h.store.services.byId(green.id) === null && addresses('green').length === 0);
    expect(h.removed).toEqual([]);
    expect(route()?.colours?.map((c) => c.colour)).toEqual(['blue']);
    expect(addresses('blue')).toHaveLength(2);

    h.store.transaction(() => {
      for (const id of [nmpi.id, blue.id]) h.store.services.setStatus(id, 'DRAINING');
    });
    await h.until('the service gone', () => h.store.services.byId(nmpi.id) === null);
    expect(h.store.services.byId(blue.id)).toBeNull();
    expect(h.runtime.running({ 'io.berth.service': 'nmpi' })).toEqual([]);
    expect(h.removed.map((s) => [s.id, s.colour])).toEqual([[nmpi.id, null]]);
    expect(route()).toBeUndefined();
    expect(h.errors).toEqual([]);
  });
});
