import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { INSTANCE, ReconcilerHarness } from '../support/reconciler-harness.js';

let h: ReconcilerHarness;

beforeEach(() => {
  h = new ReconcilerHarness();
});

afterEach(async () => {
  await h.close();
});

const running = () => h.runtime.running({ 'io.berth.instance': INSTANCE, 'io.berth.service': 'web' });

describe('tasks whose node is drained or lost', () => {
  it('replaces a task on a node being drained start-first: the new one serves before the old one leaves the routes and stops', async () => {
    const web = h.createService();
    expect((await h.finished(h.put(web, { replicas: 2 }))).step).toBe('succeeded');
    const [leaving, staying] = running();
    h.runtime.evict(leaving?.id ?? '');

    let fewest = Infinity;
    await h.until('the evicted task to be gone and two others to serve', () => {
      const now = running();
      const routed = h.gateway.last().find((r) => r.prefix === '/exp-web')?.targets ?? [];
      fewest = Math.min(fewest, routed.length);
      return !h.runtime.containers.has(leaving?.id ?? '') && now.length === 2 && routed.length === 2 ? now : null;
    });
    // Never fewer than two routed tasks while it moved.
    expect(fewest).toBe(2);
    expect(running().map((c) => c.id)).toContain(staying?.id);
    expect(h.messages(web)).toContainEqual(expect.stringMatching(/^moved 1 task off a node being drained \(web-[0-9a-f]{4}\)$/));
    expect(h.store.services.byId(web.id)?.crashCount).toBe(0);
  });

  it('replaces a task lost with its node at once, as no crash of its own, and says why', async () => {
    const web = h.createService();
    expect((await h.finished(h.put(web, { replicas: 2 }))).step).toBe('succeeded');
    const [lost] = running();
    h.runtime.lose(lost?.id ?? '', 'node worker-2 is down');
    await h.until('a replacement', () => running().length === 2 && !running().some((c) => c.id === lost?.id));
    const name = lost?.spec.labels['io.berth.task'];
    expect(h.messages(web)).toContain(`node worker-2 is down: task ${name} is lost and replaced`);
    const service = h.store.services.byId(web.id);
    expect([service?.crashCount, service?.desiredState]).toEqual([0, 'running']);
    // Its logs are kept as any stopped task's.
    expect(h.store.taskLogs.has(web.id, name ?? '')).toBe(true);
  });
});
