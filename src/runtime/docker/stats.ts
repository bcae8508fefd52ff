import type Docker from 'dockerode';
import type { TaskStats, TaskUsage } from '../task-stats.js';
import { statusOf, wrapEngineError } from './engine-errors.js';

/** Containers read at once: each one-shot read costs the engine a cgroup walk. */
const CONCURRENCY = 4;

/** The engine's one-shot stats (no second of CPU sampling): memory in use (cache left out, as `docker stats`) and CPU time. */
export class DockerStats implements TaskStats {
  constructor(private readonly docker: Docker) {}

  async usage(ids: readonly string[]): Promise<Map<string, TaskUsage>> {
    const out = new Map<string, TaskUsage>();
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < ids.length) {
        const id = ids[next++] as string;
        const usage = await this.one(id);
        if (usage) out.set(id, usage);
      }
    };
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, ids.length) }, worker));
    return out;
  }

  private async one(id: string): Promise<TaskUsage | null> {
    let stats: Docker.ContainerStats;
    try {
      stats = await this.docker.getContainer(id).stats({ stream: false, 'one-shot': true });
    } catch (error) {
      if (statusOf(error) === 404 || statusOf(error) === 409) return null;
      throw wrapEngineError(`stats of container ${id.slice(0, 12)}`, error);
    }
    const memory = stats.memory_stats;
    if (!memory?.usage) return null;
    // cgroup v1 counts the page cache in usage; v2's inactive_file is the same part.
    const cache = memory.stats?.total_inactive_file ?? memory.stats?.inactive_file ?? 0;
    return { memoryBytes: Math.max(0, memory.usage - cache), cpuSeconds: (stats.cpu_stats?.cpu_usage?.total_usage ?? 0) / 1e9 };
  }
}
