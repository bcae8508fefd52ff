import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ContainerView } from '../../src/reconciler/container-view.js';
import type { EventSubscription } from '../../src/runtime/task-runtime.js';
import { DockerRuntime } from '../../src/runtime/docker/docker-runtime.js';
import { demoTaskSpec, docker, ensureDemoImage } from '../support/docker-harness.js';

const INSTANCE = `view${process.pid}`;
const LABELS = { 'io.berth.instance': INSTANCE };
const CONTAINERS = 48;
const AT_ONCE = 8;
/** Far below the server's 30 s, so that listings overlap the creates, starts and their events. */
const RELIST_MS = 20;

const runtime = new DockerRuntime();
let view: ContainerView;
let subscription: EventSubscription;
const applying: Promise<void>[] = [];

beforeAll(async () => {
  ensureDemoImage();
  view = new ContainerView(runtime, LABELS, { now: () => Date.now() }, RELIST_MS);
  subscription = runtime.subscribe(LABELS, (event) => applying.push(view.apply(event)));
  await subscription.delivering;
  view.streamStarted();
});

afterAll(async () => {
  subscription.close();
  for (const id of docker('ps', '-aq', '--filter', `label=io.berth.instance=${INSTANCE}`).split('\n').filter(Boolean)) {
    docker('rm', '-f', id);
  }
});

describe('the container view against the engine', () => {
  it('shows each container berth started as running from then on, while the engine lists, inspects and reports events at once', async () => {
    let reading = true;
    const reader = (async () => {
      while (reading) {
        await view.all();
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    })();
    const wrong: string[] = [];
    let next = 0;
    const startOne = async (i: number): Promise<void> => {
      const id = await runtime.createTask(demoTaskSpec(`berth-${INSTANCE}-${i}`, LABELS));
      await view.refresh(id);
      await runtime.startTask(id);
      await view.refresh(id);
      for (let look = 0; look < 10; look++) {
        const state = (await view.all()).find((c) => c.id === id)?.state ?? 'missing';
        if (state !== 'running') wrong.push(`container ${i}, look ${look}: ${state}`);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    };
    try {
      await Promise.all(
        Array.from({ length: AT_ONCE }, async () => {
          while (next < CONTAINERS) await startOne(next++);
        }),
      );
    } finally {
      reading = false;
      await reader;
    }
    await Promise.all(applying);
    expect(wrong).toEqual([]);
    const running = (await view.all()).filter((c) => c.state === 'running').length;
    expect(running).toBe(CONTAINERS);
  }, 120_000);
});
