import type { PassContext } from './controller.js';
import type { LabelledContainer } from './labels.js';
import type { TaskOps } from './task-ops.js';

/**
 * Tasks on a node being drained, whose replacements are healthy: out of the routes first,
 * stopped once the gateway has sent them nothing for the drain period, as a deployment's old
 * tasks are, so that a drain fails no request.
 */
export class Evictions {
  /** By task name: when it left the routes, and its task id. */
  private readonly retiring = new Map<string, { readonly since: number; readonly id: string }>();
  private readonly ids = new Set<string>();

  constructor(
    private readonly tasks: TaskOps,
    private readonly drainMs: number,
    /** When the gateway last received a table computed after the given time. */
    private readonly routesPushedAt: () => number,
  ) {}

  /** Out of the routes, on its way to a stop. */
  isRetiring(id: string): boolean {
    return this.ids.has(id);
  }

  /** Takes `leaving` out of the routes; answers those the gateway has left alone for the drain period. */
  due(leaving: readonly LabelledContainer[], now: number, pass: PassContext): LabelledContainer[] {
    const ready: LabelledContainer[] = [];
    for (const task of leaving) {
      const retired = this.retiring.get(task.task);
      if (!retired) {
        this.retiring.set(task.task, { since: now, id: task.container.id });
        this.ids.add(task.container.id);
        this.tasks.withdrawn();
        pass.wakeAt(now + this.drainMs);
      } else if (now - retired.since >= this.drainMs && this.routesPushedAt() > retired.since) {
        ready.push(task);
      } else {
        pass.wakeAt(Math.max(now + 50, retired.since + this.drainMs));
      }
    }
    return ready;
  }

  /** Forgets tasks that no longer exist. */
  retain(names: ReadonlySet<string>): void {
    for (const [name, { id }] of this.retiring) {
      if (names.has(name)) continue;
      this.retiring.delete(name);
      this.ids.delete(id);
    }
  }
}
