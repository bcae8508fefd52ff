import { createServer, type Server, type ServerResponse } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { HealthProber, type ProbeTarget, type ProberClock } from '../../src/gateway/prober.js';

const PORT = 18301;
const CLOSED_PORT = 18302;

/** Probes run over real sockets; only their scheduling runs on this clock. */
class ManualClock implements ProberClock {
  private time = 0;
  private nextHandle = 1;
  private readonly timers = new Map<number, { due: number; callback: () => void }>();

  now(): number {
    return this.time;
  }

  setTimeout(callback: () => void, ms: number): unknown {
    const handle = this.nextHandle++;
    this.timers.set(handle, { due: this.time + ms, callback });
    return handle;
  }

  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }

  pending(): number {
    return this.timers.size;
  }

  /** Waits until `count` probes are scheduled (each probe schedules the next when it is done). */
  async settled(count = 1): Promise<void> {
    await vi.waitFor(() => expect(this.timers.size).toBe(count), { timeout: 3_000, interval: 5 });
  }

  /** Waits for the one scheduled probe, moves time to it and starts it; returns how far time moved. */
  async runNext(): Promise<number> {
    await this.settled();
    const [entry] = [...this.timers];
    if (entry === undefined) throw new Error('no timer');
    const [handle, timer] = entry;
    this.timers.delete(handle);
    const moved = timer.due - this.time;
    this.time = timer.due;
    timer.callback();
    return moved;
  }
}

let server: Server;
let answer: (res: ServerResponse) => void = (res) => res.end('ok');
const requests: string[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    requests.push(req.url ?? '');
    answer(res);
  });
  await new Promise<void>((resolve) => server.listen(PORT, '127.0.0.1', resolve));
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const probers: HealthProber[] = [];
afterEach(() => {
  for (const prober of probers.splice(0)) prober.stop();
  answer = (res) => res.end('ok');
  requests.length = 0;
});

function answerWith(status: number): void {
  answer = (res) => {
    res.statusCode = status;
    res.end();
  };
}

function target(overrides: Partial<ProbeTarget> = {}): ProbeTarget {
  return {
    id: 'exp-2-web.1',
    host: '127.0.0.1',
    port: PORT,
    path: '/exp-2-web/health',
    statusCodes: [{ from: 200, to: 399 }],
    intervalSeconds: 5,
    ...overrides,
  };
}

function prober(timeoutMs?: number): { prober: HealthProber; clock: ManualClock; changes: string[] } {
  const clock = new ManualClock();
  const created = new HealthProber({ clock, timeoutMs });
  probers.push(created);
  const changes: string[] = [];
  created.onChange((id) => changes.push(`${id}:${created.health(id).state}`));
  return { prober: created, clock, changes };
}

describe('HealthProber', () => {
  it('probes a new target at once, the full path, and calls it healthy after one success', async () => {
    const { prober: p, clock, changes } = prober();
    p.setTargets([target()]);
    expect(p.health('exp-2-web.1')).toEqual({ state: 'initial' });

    await clock.settled();
    expect(requests).toEqual(['/exp-2-web/health']);
    expect(p.health('exp-2-web.1')).toEqual({ state: 'healthy' });
    expect(changes).toEqual(['exp-2-web.1:healthy']);
    // Once healthy, it is probed at its interval.
    expect(await clock.runNext()).toBe(5_000);
  });

  it('keeps a failing new target initial, probing again after 10 ms, doubling up to every 100 ms, for two intervals; then unhealthy', async () => {
    answerWith(404);
    const { prober: p, clock, changes } = prober();
    p.setTargets([target({ intervalSeconds: 1 })]);
    await clock.settled();
    expect(p.health('exp-2-web.1')).toEqual({
      state: 'initial',
      description: 'Health checks failed with these codes: [404]',
    });

    const delays: number[] = [];
    while (p.health('exp-2-web.1').state === 'initial') {
      delays.push(await clock.runNext());
      await clock.settled();
    }
    // 10 + 20 + 40 + 80 + 19 × 100 ms: the first probe at or after two intervals (2 s) fails it.
    expect(delays).toEqual([10, 20, 40, 80, ...Array.from({ length: 19 }, () => 100)]);
    expect(p.health('exp-2-web.1')).toEqual({
      state: 'unhealthy',
      description: 'Health checks failed with these codes: [404]',
    });
    expect(changes).toEqual(['exp-2-web.1:unhealthy']);
    expect(await clock.runNext()).toBe(1_000);
  });

  it('turns a healthy target unhealthy after two failures in a row, and healthy again after one success', async () => {
    const { prober: p, clock, changes } = prober();
    p.setTargets([target()]);
    await clock.settled();

    answerWith(500);
    await clock.runNext();
    await clock.settled();
    expect(p.health('exp-2-web.1')).toEqual({ state: 'healthy' });

    await clock.runNext();
    await clock.settled();
    expect(p.health('exp-2-web.1')).toEqual({
      state: 'unhealthy',
      description: 'Health checks failed with these codes: [500]',
    });

    answerWith(204);
    await clock.runNext();
    await clock.settled();
    expect(p.health('exp-2-web.1')).toEqual({ state: 'healthy' });
    expect(changes).toEqual(['exp-2-web.1:healthy', 'exp-2-web.1:unhealthy', 'exp-2-web.1:healthy']);
  });

  it('one failure between successes does not make a healthy target unhealthy', async () => {
    const { prober: p, clock } = prober();
    p.setTargets([target()]);
    await clock.settled();
    answerWith(503);
    await clock.runNext();
    await clock.settled();
    answerWith(200);
    await clock.runNext();
    await clock.settled();
    answerWith(503);
    await clock.runNext();
    await clock.settled();
    expect(p.health('exp-2-web.1')).toEqual({ state: 'healthy' });
  });

  it('matches the configured status ranges', async () => {
    answerWith(404);
    const { prober: p, clock } = prober();
    p.setTargets([target({ statusCodes: [{ from: 200, to: 299 }, { from: 404, to: 404 }] })]);
    await clock.settled();
    expect(p.health('exp-2-web.1')).toEqual({ state: 'healthy' });
  });

  it('judges a known task by the status ranges it is given later', async () => {
    answerWith(404);
    const { prober: p, clock } = prober();
    p.setTargets([target()]);
    await clock.settled();
    expect(p.health('exp-2-web.1').state).not.toBe('healthy');
    p.setTargets([target({ statusCodes: [{ from: 404, to: 404 }] })]);
    await clock.runNext();
    await clock.settled();
    expect(p.health('exp-2-web.1')).toEqual({ state: 'healthy' });
  });

  it('describes a refused connection and a timeout', async () => {
    answer = () => undefined; // never answers
    const { prober: p, clock } = prober(200);
    p.setTargets([target({ id: 'refused', port: CLOSED_PORT }), target({ id: 'slow' })]);
    await clock.settled(2);
    expect(p.health('refused')).toEqual({ state: 'initial', description: 'connection refused' });
    expect(p.health('slow')).toEqual({ state: 'initial', description: 'timed out after 0.2 s' });
  });

  it('drops targets missing from the list, and starts over when a target moves', async () => {
    const { prober: p, clock } = prober();
    p.setTargets([target({ id: 'a' }), target({ id: 'b' })]);
    await clock.settled(2);
    expect(p.health('a').state).toBe('healthy');

    p.setTargets([target({ id: 'b', path: '/exp-2-web/other' })]);
    expect(p.health('a')).toEqual({ state: 'initial' });
    expect(p.health('b')).toEqual({ state: 'initial' });
    await clock.settled(1);
    expect(p.health('b')).toEqual({ state: 'healthy' });
    expect(requests.at(-1)).toBe('/exp-2-web/other');
  });

  it('keeps the state when only the interval changes, and uses the new interval', async () => {
    const { prober: p, clock } = prober();
    p.setTargets([target()]);
    await clock.settled();
    p.setTargets([target({ intervalSeconds: 30 })]);
    expect(p.health('exp-2-web.1').state).toBe('healthy');
    await clock.runNext(); // scheduled before the change
    expect(await clock.runNext()).toBe(30_000);
  });

  it('stop() cancels scheduled and running probes', async () => {
    answer = () => undefined;
    const { prober: p, clock } = prober();
    p.setTargets([target()]);
    await vi.waitFor(() => expect(requests).toHaveLength(1));
    p.stop();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(clock.pending()).toBe(0);
    p.setTargets([target()]);
    expect(clock.pending()).toBe(0);
  });
});
