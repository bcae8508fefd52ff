import type { Clock } from '../domain/model.js';
import type { TaskRuntime, TaskSummary } from '../runtime/task-runtime.js';

/** How long a listing of the nodes names the tasks of the status calls that follow. */
const FRESH_MS = 2_000;

/** The names of the runtime's nodes, by id, read at most every two seconds. */
export class NodeNames {
  private cached: { at: number; names: Promise<ReadonlyMap<string, string>> } | null = null;

  constructor(
    private readonly runtime: TaskRuntime,
    private readonly clock: Clock,
  ) {}

  /** The name of the node a task runs on; a runtime of one node runs every task on it. */
  async of(task: Pick<TaskSummary, 'node'>): Promise<string | null> {
    const names = await this.names();
    if (task.node === undefined) return names.size === 1 ? ([...names.values()][0] ?? null) : null;
    return task.node === null ? null : (names.get(task.node) ?? task.node);
  }

  names(): Promise<ReadonlyMap<string, string>> {
    const now = this.clock.now();
    if (!this.cached || now - this.cached.at >= FRESH_MS) {
      const names = this.runtime.nodes().then((nodes) => new Map(nodes.map((n) => [n.id, n.name])));
      this.cached = { at: now, names };
      names.catch(() => {
        if (this.cached?.names === names) this.cached = null;
      });
    }
    return this.cached.names;
  }
}
