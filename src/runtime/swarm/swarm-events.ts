import type { EventSubscription, TaskEvent, TaskEventKind, TaskSummary } from '../task-runtime.js';

export interface PollingOptions {
  /** How often the tasks are listed. */
  readonly periodMs: number;
  /** How often while a task waits to run, whose start a deployment waits on; default `periodMs`. */
  readonly busyPeriodMs?: number;
  /**
   * How long a task waiting to run keeps the listing busy: one that fits on no node may wait
   * for hours, and three engine calls every busy period would be spent on it all that time.
   */
  readonly busyForMs?: number;
  /** The clock the waits are measured by (tests pass their own). */
  readonly now?: () => number;
}

/**
 * Swarm's event stream tells of services and nodes, not of tasks starting or ending on
 * other machines: berth's task events on Swarm come from listing its tasks every `periodMs`
 * (every `busyPeriodMs` for the first `busyForMs` a task waits to run) and telling what
 * changed. The first listing is the baseline; the subscription delivers from then on. A
 * failed listing ends the subscription with its error (the reconciler subscribes again).
 */
export function subscribeByPolling(
  list: () => Promise<TaskSummary[]>,
  onEvent: (event: TaskEvent) => void,
  options: PollingOptions,
): EventSubscription {
  const { periodMs, busyPeriodMs = periodMs, busyForMs = 30_000, now: clock = Date.now } = options;
  let closed = false;
  let wake: (() => void) | null = null;
  let delivered: () => void = () => {};
  const delivering = new Promise<void>((resolve) => {
    delivered = resolve;
  });
  const busy = busyWhileWaiting(busyForMs, clock);
  const ended = (async () => {
    let before: ReadonlyMap<string, TaskSummary> | null = null;
    while (!closed) {
      let now: Map<string, TaskSummary>;
      try {
        now = new Map((await list()).map((t) => [t.id, t]));
      } catch (error) {
        // As the engine's event stream does: the subscription ends with why, which the
        // reconciler logs before it lists again itself and subscribes anew.
        if (closed) return;
        throw error;
      }
      if (closed) return;
      if (before === null) delivered();
      else for (const event of changes(before, now)) onEvent(event);
      before = now;
      const wait = busy(now) ? busyPeriodMs : periodMs;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, wait);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wake = null;
    }
  })();
  return {
    delivering,
    ended,
    close: () => {
      closed = true;
      wake?.();
    },
  };
}

/** Whether a listing has a task that has waited to run for less than `busyForMs`. */
function busyWhileWaiting(busyForMs: number, clock: () => number): (tasks: ReadonlyMap<string, TaskSummary>) => boolean {
  /** When each task still waiting to run was first seen waiting. */
  const waitingSince = new Map<string, number>();
  return (tasks) => {
    const at = clock();
    for (const id of waitingSince.keys()) if (tasks.get(id)?.state !== 'created') waitingSince.delete(id);
    let busy = false;
    for (const task of tasks.values()) {
      if (task.state !== 'created') continue;
      const since = waitingSince.get(task.id) ?? at;
      waitingSince.set(task.id, since);
      if (at - since < busyForMs) busy = true;
    }
    return busy;
  };
}

/** The events that take `before` to `now`, in the engine's words for containers. */
export function changes(before: ReadonlyMap<string, TaskSummary>, now: ReadonlyMap<string, TaskSummary>): TaskEvent[] {
  const events: TaskEvent[] = [];
  const time = new Date();
  const tell = (kind: TaskEventKind, task: TaskSummary): void => {
    events.push({ kind, taskId: task.id, labels: task.labels, time });
  };
  for (const [id, task] of now) {
    const was = before.get(id);
    if (!was) {
      tell('created', task);
      if (task.state === 'running') tell('started', task);
      else if (task.state === 'exited') tell('exited', task);
      continue;
    }
    if (was.state !== task.state) {
      if (task.state === 'running') tell('started', task);
      else if (task.state === 'exited') tell('exited', task);
      else tell('health', task);
    } else if (moved(was, task)) {
      tell('health', task);
    }
  }
  for (const [id, task] of before) if (!now.has(id)) tell('removed', task);
  return events;
}

/** A change the view must see besides the state: health, where it runs and is reached, why it waits. */
function moved(a: TaskSummary, b: TaskSummary): boolean {
  return (
    a.health !== b.health ||
    a.address !== b.address ||
    a.node !== b.node ||
    a.evicted !== b.evicted ||
    a.waiting !== b.waiting ||
    JSON.stringify(a.ports ?? {}) !== JSON.stringify(b.ports ?? {})
  );
}
