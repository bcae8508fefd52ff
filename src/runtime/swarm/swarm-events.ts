import type { EventSubscription, TaskEvent, TaskEventKind, TaskSummary } from '../task-runtime.js';

/**
 * Swarm's event stream tells of services and nodes, not of tasks starting or ending on
 * other machines: berth's task events on Swarm come from listing its tasks every `periodMs`
 * and telling what changed. The first listing is the baseline; the subscription delivers
 * from then on. A failed listing ends the subscription (the reconciler subscribes again).
 */
export function subscribeByPolling(
  list: () => Promise<TaskSummary[]>,
  onEvent: (event: TaskEvent) => void,
  periodMs: number,
): EventSubscription {
  let closed = false;
  let wake: (() => void) | null = null;
  let delivered: () => void = () => {};
  const delivering = new Promise<void>((resolve) => {
    delivered = resolve;
  });
  const ended = (async () => {
    let before: ReadonlyMap<string, TaskSummary> | null = null;
    while (!closed) {
      let now: Map<string, TaskSummary>;
      try {
        now = new Map((await list()).map((t) => [t.id, t]));
      } catch {
        // The reconciler notices the end, lists again itself, and subscribes anew.
        return;
      }
      if (closed) return;
      if (before === null) delivered();
      else for (const event of changes(before, now)) onEvent(event);
      before = now;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, periodMs);
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
