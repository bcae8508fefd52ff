import { beforeEach, describe, expect, it } from 'vitest';
import { ContainerView } from '../../src/reconciler/container-view.js';
import type { TaskDetails, TaskSummary, TaskEvent } from '../../src/runtime/task-runtime.js';
import { FAKE_SPEC, FakeRuntime } from '../support/fake-runtime.js';

const LABELS = { 'io.berth.instance': 'view0001' };
const RELIST_MS = 1_000;

/** An engine whose answers the test can hold back, and whose list can lag behind its events. */
class SlowEngine extends FakeRuntime {
  listings = 0;
  /** While set, list() answers with this instead of the truth, as the engine's lagging list does. */
  laggingList: TaskSummary[] | null = null;
  private gate: { what: 'list' | 'inspect'; opened: Promise<void> } | null = null;
  private open: () => void = () => {};

  override async listTasks(labels: Readonly<Record<string, string>>): Promise<TaskSummary[]> {
    this.listings++;
    const answer = this.laggingList ?? (await super.listTasks(labels));
    await this.wait('list');
    return answer;
  }

  override async inspectTask(id: string): Promise<TaskDetails | null> {
    const answer = await super.inspectTask(id);
    await this.wait('inspect');
    return answer;
  }

  /** The next call of this kind takes its answer at once but returns it only at `release()`. */
  hold(what: 'list' | 'inspect'): void {
    const opened = new Promise<void>((resolve) => {
      this.open = resolve;
    });
    this.gate = { what, opened };
  }

  release(): void {
    this.open();
  }

  private async wait(what: 'list' | 'inspect'): Promise<void> {
    const gate = this.gate;
    if (gate?.what !== what) return;
    this.gate = null;
    await gate.opened;
  }
}

let engine: SlowEngine;
let view: ContainerView;
let now: number;
/** Every event the engine emits, for the view to apply in order as the reconciler does. */
let applying: Promise<void>[];

function spec(name: string) {
  return { ...FAKE_SPEC, name, labels: LABELS };
}

async function started(name: string): Promise<string> {
  const id = await engine.createTask(spec(name));
  await engine.startTask(id);
  await settled();
  return id;
}

/** A created container the view has seen, with no listing due. */
async function created(name: string): Promise<string> {
  const id = await engine.createTask(spec(name));
  await settled();
  await view.all();
  return id;
}

/** The container's process ends without the engine saying so. */
function exitUnreported(id: string): void {
  const container = engine.containers.get(id);
  container!.state = 'exited';
  container!.address = null;
}

async function settled(): Promise<void> {
  await Promise.all(applying);
}

async function stateOf(id: string): Promise<string | undefined> {
  return (await view.all()).find((c) => c.id === id)?.state;
}

beforeEach(() => {
  engine = new SlowEngine();
  now = 0;
  view = new ContainerView(engine, LABELS, { now: () => now }, RELIST_MS);
  applying = [];
  engine.subscribe(LABELS, (event: TaskEvent) => applying.push(view.apply(event)));
  view.streamStarted();
});

describe('the container view', () => {
  it('answers from its events while the stream is live, listing the engine only once per relist period', async () => {
    const id = await started('a');
    expect(await stateOf(id)).toBe('running');
    const listings = engine.listings;
    engine.exit(id, 137);
    expect(await stateOf(id)).toBe('exited');
    expect((await view.all()).find((c) => c.id === id)?.address).toBeNull();
    await engine.removeTask(id);
    await settled();
    expect(await stateOf(id)).toBeUndefined();
    expect(engine.listings).toBe(listings);
    now += RELIST_MS;
    await view.all();
    expect(engine.listings).toBe(listings + 1);
  });

  it('lists the engine on every read while no event stream is live', async () => {
    view.streamEnded();
    const id = await engine.createTask(spec('b'));
    await engine.startTask(id);
    expect(await stateOf(id)).toBe('running');
    const listings = engine.listings;
    await view.all();
    await view.all();
    expect(engine.listings).toBe(listings + 2);
  });

  it('keeps a task dead that the engine reported dead, even when its list still says running', async () => {
    const id = await started('c');
    await view.all();
    engine.laggingList = await engine.listTasks(LABELS);
    engine.exit(id, 137);
    await settled();
    now += RELIST_MS;
    expect(await stateOf(id)).toBe('exited');
  });

  it('holds an inspect’s answer while a later inspect of the same container is still under way', async () => {
    const id = await created('i');
    await engine.startTask(id);
    engine.hold('inspect');
    const later = view.refresh(id);
    await settled();
    expect(await stateOf(id)).toBe('running');
    engine.release();
    await later;
  });

  it('keeps what an inspect under way says over a listing that began after it and lags behind', async () => {
    const id = await created('h');
    engine.laggingList = await engine.listTasks(LABELS);
    engine.hold('inspect');
    await engine.startTask(id);
    now += RELIST_MS;
    const read = view.all();
    await Promise.resolve();
    engine.release();
    await read;
    await settled();
    expect(await stateOf(id)).toBe('running');
  });

  it('corrects a change no event told it about at the next listing', async () => {
    const id = await started('d');
    await view.all();
    exitUnreported(id);
    expect(await stateOf(id)).toBe('running');
    now += RELIST_MS;
    expect(await stateOf(id)).toBe('exited');
  });

  it('never lets a slow answer about a container overwrite a newer event', async () => {
    const id = await created('e');
    engine.hold('inspect');
    await engine.startTask(id);
    await engine.removeTask(id);
    engine.release();
    await settled();
    expect(await stateOf(id)).toBeUndefined();
  });

  it('does not bring back a container destroyed while the engine was listing', async () => {
    const id = await started('f');
    now += RELIST_MS;
    engine.hold('list');
    const read = view.all();
    await Promise.resolve();
    await engine.removeTask(id);
    await settled();
    engine.release();
    expect((await read).map((c) => c.id)).not.toContain(id);
  });

  it('lists the engine again once a new stream is live, for what happened while none was', async () => {
    const id = await started('g');
    await view.all();
    view.streamEnded();
    exitUnreported(id);
    view.streamStarted();
    expect(await stateOf(id)).toBe('exited');
  });
});
