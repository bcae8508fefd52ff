import Docker from 'dockerode';
import { run } from './process.js';

/** Every container the bench starts itself (baselines) carries this label with the run's session id. */
export const BENCH_LABEL = 'io.berth.bench';

const REMOVE_TIMEOUT_MS = 30_000;

const engine = new Docker({ socketPath: '/var/run/docker.sock' });

export function docker(args: readonly string[], timeoutMs = 60_000): Promise<string> {
  return run('docker', args, { timeoutMs });
}

/** The container's address on its first network, read through the Engine API (no CLI start-up cost). */
export async function containerIp(id: string): Promise<string> {
  const info = await engine.getContainer(id).inspect();
  for (const network of Object.values(info.NetworkSettings.Networks ?? {})) {
    if (network.IPAddress) return network.IPAddress;
  }
  throw new Error(`container ${id.slice(0, 12)} has no IP address (state ${info.State.Status})`);
}

/** Running containers carrying the label (key=value), with their labels and first address, in one Engine API call. */
export async function runningWithLabel(label: string): Promise<{ readonly labels: Record<string, string>; readonly ip: string | null }[]> {
  const list = await engine.listContainers({ filters: { label: [label] } });
  return list.map((c) => ({
    labels: c.Labels,
    ip: Object.values(c.NetworkSettings?.Networks ?? {}).find((n) => n.IPAddress)?.IPAddress ?? null,
  }));
}

export async function containerInfo(id: string): Promise<Docker.ContainerInspectInfo> {
  return engine.getContainer(id).inspect();
}

/** `docker kill` through the Engine API, without the CLI's start-up time. */
export async function killContainer(id: string): Promise<void> {
  await engine.getContainer(id).kill({ signal: 'SIGKILL' });
}

export async function containersWithLabel(label: string, onlyRunning = false): Promise<string[]> {
  const list = await engine.listContainers({ all: !onlyRunning, filters: { label: [label] } });
  return list.map((c) => c.Id);
}

/**
 * Removes every container carrying the label (key=value), one at a time. Not in parallel:
 * Debian's docker.io 20.10.24 lacks the fix for a libnetwork lock-order deadlock
 * (getSvcRecords against processEndpointDelete, moby/moby#42545) that many concurrent
 * removals can trigger, after which the engine hangs on every stop, kill and rm until
 * dockerd restarts. Bounded: each removal 30 s, the whole removal timeoutMs.
 */
export async function removeContainersWithLabel(label: string, timeoutMs = 10 * 60_000): Promise<number> {
  const ids = await containersWithLabel(label);
  const deadline = Date.now() + timeoutMs;
  for (const id of ids) {
    if (Date.now() > deadline) throw new Error(`removing ${ids.length} containers (${label}) took longer than ${timeoutMs} ms`);
    const removal = engine
      .getContainer(id)
      .remove({ force: true, v: true })
      .catch((error: unknown) => {
        if ((error as { statusCode?: number }).statusCode !== 404) throw error;
      });
    await withTimeout(removal, REMOVE_TIMEOUT_MS, `removing container ${id.slice(0, 12)}`);
  }
  return ids.length;
}

function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms; is the engine hung?`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
