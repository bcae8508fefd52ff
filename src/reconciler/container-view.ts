import type { Clock } from '../domain/model.js';
import type { TaskEvent, TaskRuntime, TaskSummary } from '../runtime/task-runtime.js';
import type { ChangeTracker } from './change-tracker.js';

/** How often a live view lists the engine anyway, to correct whatever an event did not say. */
export const RELIST_MS = 30_000;

/**
 * The instance's containers, kept current from the engine's events, so that a reconcile
 * pass and a status call read memory instead of asking the engine to filter all of its
 * containers, whose cost grew faster than the number of services (BENCHMARKS.md).
 *
 * An event updates the one container it names, from an inspect; what berth does to a
 * container itself is recorded when the call returns. The engine is listed in full when
 * no event stream is live (every read then lists, as if there were no view), once a new
 * stream is live, and every `relistMs`. Where a listing disagrees with the view, the
 * container is inspected: the engine's list can lag behind its events.
 */
export class ContainerView {
  private readonly containers = new Map<string, TaskSummary>();
  /** True while an event stream is delivering; without one, events may be missed. */
  private live = false;
  private listedAt = Number.NEGATIVE_INFINITY;
  private mustList = true;
  private listing: Promise<void> | null = null;
  /** Numbers what the view learns, in the order it asked: a late answer never overwrites a newer one. */
  private changes = 0;
  /**
   * For each container, the number of what the view holds about it; for one that is gone,
   * of when it went, until a later listing can no longer show it.
   */
  private readonly learnt = new Map<string, number>();
  /** Where the previous listing began in that numbering. */
  private previousListing = 0;
  /** What `all` returned, until the view changes: a pass at rest then finds the same array. */
  private snapshot: readonly TaskSummary[] | null = null;

  constructor(
    private readonly runtime: TaskRuntime,
    private readonly labels: Readonly<Record<string, string>>,
    private readonly clock: Clock,
    private readonly relistMs = RELIST_MS,
    /** Told of every change the view learns ('tasks'). */
    private readonly tracker: ChangeTracker | null = null,
  ) {}

  /**
   * Every container, listing the engine first when the view cannot vouch for itself. The
   * same array as the call before while nothing changed.
   */
  async all(): Promise<readonly TaskSummary[]> {
    if (!this.live || this.mustList || this.clock.now() - this.listedAt >= this.relistMs) await this.list();
    this.snapshot ??= [...this.containers.values()];
    return this.snapshot;
  }

  /** The containers whose labels include all of `labels`. */
  async matching(labels: Readonly<Record<string, string>>): Promise<TaskSummary[]> {
    const entries = Object.entries(labels);
    return (await this.all()).filter((c) => entries.every(([key, value]) => c.labels[key] === value));
  }

  /** An event stream now delivers: what happened before it is known only from a listing. */
  streamStarted(): void {
    this.live = true;
    this.mustList = true;
  }

  streamEnded(): void {
    this.live = false;
    this.mustList = true;
  }

  /** Applies an engine event at once where the event says enough, and inspects the container for the rest. */
  async apply(event: TaskEvent): Promise<void> {
    const id = event.taskId;
    switch (event.kind) {
      case 'removed':
        this.forget(id);
        return;
      case 'exited': {
        const known = this.containers.get(id);
        if (known) this.hold(id, { ...known, state: 'exited', address: null }, ++this.changes);
        await this.refresh(id);
        return;
      }
      case 'created':
      case 'started':
      case 'health':
        await this.refresh(id);
        return;
      case 'oom':
        // Changes nothing by itself; the exit that follows does.
        return;
    }
  }

  /** Looks at one container again, e.g. after berth created or started it. */
  async refresh(id: string): Promise<void> {
    const change = ++this.changes;
    let details;
    try {
      details = await this.runtime.inspectTask(id);
    } catch (error) {
      // What the view holds for it may be wrong now; the next read lists the engine.
      this.mustList = true;
      throw error;
    }
    if ((this.learnt.get(id) ?? 0) > change) return;
    this.hold(id, details === null ? null : summaryOf(details), change);
  }

  /** berth removed the container. */
  forget(id: string): void {
    this.hold(id, null, ++this.changes);
  }

  private hold(id: string, container: TaskSummary | null, change: number): void {
    this.learnt.set(id, change);
    this.snapshot = null;
    this.tracker?.bump('tasks');
    if (container === null) this.containers.delete(id);
    else this.containers.set(id, container);
  }

  private list(): Promise<void> {
    this.listing ??= this.listOnce().finally(() => {
      this.listing = null;
    });
    return this.listing;
  }

  /**
   * A listing can lag behind the engine's events and behind an inspect, so it never
   * overwrites what the view holds: where they disagree, an inspect decides. It adds only
   * containers the view has never heard of.
   */
  private async listOnce(): Promise<void> {
    const startedAt = this.clock.now();
    const began = this.changes;
    // Cleared before the await: a stream that starts or ends meanwhile asks for another listing.
    this.mustList = false;
    let listed: TaskSummary[];
    try {
      listed = await this.runtime.listTasks(this.labels);
    } catch (error) {
      this.mustList = true;
      throw error;
    }
    const seen = new Map(listed.map((c) => [c.id, c]));
    const disputed: string[] = [];
    for (const [id, known] of this.containers) {
      const listedAs = seen.get(id);
      if (!listedAs || differs(listedAs, known)) disputed.push(id);
    }
    for (const [id, container] of seen) {
      if (this.learnt.has(id)) continue;
      this.containers.set(id, container);
      this.snapshot = null;
      this.tracker?.bump('tasks');
    }
    // A container gone before the previous listing began cannot appear in a listing any more.
    for (const [id, change] of this.learnt) {
      if (!this.containers.has(id) && change <= this.previousListing) this.learnt.delete(id);
    }
    this.previousListing = began;
    await Promise.all(disputed.map((id) => this.refresh(id)));
    this.listedAt = startedAt;
  }
}

/** What a listing and the view may disagree on; where a task runs and why it waits count on Swarm. */
function differs(a: TaskSummary, b: TaskSummary): boolean {
  return a.state !== b.state || a.address !== b.address || a.health !== b.health || a.node !== b.node || a.evicted !== b.evicted;
}

function summaryOf(details: TaskSummary): TaskSummary {
  const { id, name, image, labels, state, createdAt, address, health, node, ports, waiting, evicted } = details;
  return { id, name, image, labels, state, createdAt, address, health, node, ports, waiting, evicted };
}
