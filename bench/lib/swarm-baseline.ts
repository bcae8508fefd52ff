import Docker from 'dockerode';
import { sleep } from '../../src/process/wait.js';
import { get } from './http.js';
import { nowMs } from './process.js';

/** What a Swarm task answers on: its node's address and the port Swarm published it on. */
export interface Published {
  readonly address: string;
  readonly port: number;
  readonly node: string;
}

interface SwarmTaskView {
  readonly NodeID?: string;
  readonly DesiredState?: string;
  readonly Status?: { State?: string; PortStatus?: { Ports?: { PublishedPort?: number }[] } };
}

/**
 * The baseline a user writes by hand against the Swarm API (dockerode on the manager's
 * socket): `docker service create` of one replica with the same image, limits and
 * reservation as berth's task, published on its node, then polling.
 */
export class SwarmBaseline {
  private readonly docker: Docker;
  private readonly addresses = new Map<string, string>();

  constructor(socketPath: string) {
    this.docker = new Docker({ socketPath, timeout: 30_000 });
  }

  /** An attachable overlay network, as berth makes one for each project; removed with the lab. */
  async overlay(name: string, label: string): Promise<string> {
    const network = await this.docker.createNetwork({ Name: name, Driver: 'overlay', Attachable: true, CheckDuplicate: true, Labels: { [label]: 'true' } });
    return network.id;
  }

  /**
   * A plain service; `restart: any` lets Swarm itself reschedule it when its node dies. On
   * `network` (an overlay) it does what berth's task does: a node joins the overlay before it
   * starts the task, and leaves it with its last task on it.
   */
  async create(name: string, image: string, options: { restart: 'none' | 'any'; constraints: readonly string[]; label: string; network?: string }): Promise<string> {
    const service = await this.docker.createService({
      Name: name,
      Labels: { [options.label]: 'true' },
      TaskTemplate: {
        ContainerSpec: { Image: image, Env: ['GREETING=hello', `CONTEXT_ROOT=/${name}`], Init: true },
        Resources: { Limits: { MemoryBytes: 32 * 1024 * 1024 }, Reservations: { MemoryBytes: 16 * 1024 * 1024 } },
        RestartPolicy: { Condition: options.restart, Delay: 0 },
        Placement: { Constraints: [...options.constraints] },
        ...(options.network ? { Networks: [{ Target: options.network }] } : {}),
      },
      Mode: { Replicated: { Replicas: 1 } },
      EndpointSpec: { Mode: 'dnsrr', Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishMode: 'host' }] },
    });
    return (service as unknown as { id: string }).id;
  }

  async remove(id: string): Promise<void> {
    await this.docker.getService(id).remove();
  }

  /** Polls the service's tasks every `intervalMs` until one runs published on a node other than `avoid`. */
  async published(id: string, options: { intervalMs: number; timeoutMs: number; avoid?: string }): Promise<Published> {
    const deadline = nowMs() + options.timeoutMs;
    while (nowMs() < deadline) {
      const tasks = (await this.docker.listTasks({ filters: { service: [id], 'desired-state': ['running'] } })) as SwarmTaskView[];
      for (const task of tasks) {
        const port = task.Status?.PortStatus?.Ports?.[0]?.PublishedPort;
        if (task.Status?.State !== 'running' || !port || !task.NodeID || task.NodeID === options.avoid) continue;
        return { address: await this.address(task.NodeID), port, node: task.NodeID };
      }
      await sleep(options.intervalMs);
    }
    throw new Error(`Swarm service ${id} was not running within ${options.timeoutMs} ms`);
  }

  /** `docker service create` → its task answers 200, in ms; polling the API and then HTTP every `intervalMs`. */
  async timeToServe(name: string, image: string, options: { intervalMs: number; constraints: readonly string[]; label: string; network?: string }): Promise<number> {
    const t0 = nowMs();
    const id = await this.create(name, image, { restart: 'none', ...options });
    try {
      const at = await this.published(id, { intervalMs: options.intervalMs, timeoutMs: 60_000 });
      await untilOk(`http://${at.address}:${at.port}/${name}/`, options.intervalMs, 30_000);
      return nowMs() - t0;
    } finally {
      await this.remove(id);
    }
  }

  private async address(node: string): Promise<string> {
    const known = this.addresses.get(node);
    if (known) return known;
    const info = (await this.docker.getNode(node).inspect()) as { Status?: { Addr?: string } };
    const address = info.Status?.Addr ?? '';
    this.addresses.set(node, address);
    return address;
  }
}

/** Polls a URL on fresh connections until it answers 200. */
export async function untilOk(url: string, intervalMs: number, timeoutMs: number): Promise<number> {
  const deadline = nowMs() + timeoutMs;
  while (nowMs() < deadline) {
    const outcome = await get(url, 1_000);
    if ('status' in outcome && outcome.status === 200) return nowMs();
    await sleep(intervalMs);
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs} ms`);
}
