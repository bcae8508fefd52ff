import Docker from 'dockerode';
import { ConfigError, RuntimeUnavailableError } from '../domain/errors.js';
import type { Cluster } from '../runtime/cluster.js';
import { DockerRuntime } from '../runtime/docker/docker-runtime.js';
import { EngineCluster } from '../runtime/docker/engine-cluster.js';
import { SwarmRuntime } from '../runtime/swarm/swarm-runtime.js';
import type { TaskExec } from '../runtime/task-exec.js';
import type { TaskRuntime } from '../runtime/task-runtime.js';
import type { TaskStats } from '../runtime/task-stats.js';
import type { ServerConfig } from './config.js';

export interface ChosenRuntime {
  readonly runtime: TaskRuntime;
  readonly cluster: Cluster;
  /** Commands in running tasks (on Swarm, those on berth's own node). */
  readonly exec: TaskExec | null;
  /** Tasks' memory and CPU, for the metrics; null on Swarm, for the same reason. */
  readonly stats: TaskStats | null;
}

/**
 * The runtime adapter for the engine at --docker-host: Swarm's when it is a Swarm manager
 * (or --orchestrator swarm insists), the single engine's otherwise. Both are the same port;
 * nothing above this choice knows which it got.
 */
export async function chooseRuntime(config: Pick<ServerConfig, 'dockerSocket' | 'orchestrator' | 'networkPool' | 'stopGraceSeconds'>, onWarning: (error: Error) => void): Promise<ChosenRuntime> {
  const docker = new Docker({ socketPath: config.dockerSocket, timeout: 30_000 });
  let swarm: { LocalNodeState?: string; ControlAvailable?: boolean };
  try {
    swarm = ((await docker.info()) as { Swarm?: typeof swarm }).Swarm ?? {};
  } catch (error) {
    throw new RuntimeUnavailableError(`The Docker engine at ${config.dockerSocket} does not answer`, { cause: error });
  }
  const manager = swarm.LocalNodeState === 'active' && swarm.ControlAvailable === true;
  if (config.orchestrator === 'swarm' && !manager) {
    throw new ConfigError(
      `--orchestrator swarm: the engine at ${config.dockerSocket} is not a Swarm manager (Swarm is ${swarm.LocalNodeState ?? 'inactive'} there); run 'docker swarm init' or point --docker-host at a manager`,
    );
  }
  if (config.orchestrator === 'swarm' || (config.orchestrator === 'auto' && manager)) {
    const runtime = new SwarmRuntime({ socketPath: config.dockerSocket, stopGraceMs: config.stopGraceSeconds * 1000 });
    return { runtime, cluster: runtime, exec: runtime.exec, stats: null };
  }
  const runtime = new DockerRuntime({ socketPath: config.dockerSocket, onWarning, networkPool: config.networkPool });
  return { runtime, cluster: new EngineCluster(docker), exec: runtime.exec, stats: runtime.stats };
}
