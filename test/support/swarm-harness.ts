import { Agent, request } from 'node:http';
import { ADMIN_TOKEN, ApiClient, DEMO_IMAGE, ensureDemoImage, startTestServer, waitFor, type TestServer } from './docker-harness.js';
import { SwarmLab, type LabNode } from './swarm-lab.js';

/** A berth server on the host driving a real Swarm of lab nodes (swarm-lab.ts). */
export interface SwarmBed {
  readonly lab: SwarmLab;
  readonly server: TestServer;
  /** The admin's client, on the API's address on the lab's bridge (the nodes reach the token endpoint there). */
  readonly admin: ApiClient;
  /** The registry's address, as the nodes pull from it. */
  readonly registry: string;
  node(name: string): LabNode;
  destroy(): Promise<void>;
}

export interface SwarmBedOptions {
  readonly lab: number;
  readonly nodes: number;
  /** Four ports from here: API, gateway, gateway admin, registry. */
  readonly basePort: number;
  readonly heartbeatSeconds?: number;
  readonly healthTimeout?: string;
}

export async function startSwarmBed(options: SwarmBedOptions): Promise<SwarmBed> {
  ensureDemoImage();
  const hostAddress = `10.250.${options.lab}.1`;
  const registry = `${hostAddress}:${options.basePort + 3}`;
  const lab = await SwarmLab.create({ lab: options.lab, nodes: options.nodes, heartbeatSeconds: options.heartbeatSeconds ?? 1, insecureRegistries: [registry] });
  let server: TestServer;
  try {
    await lab.loadImages(DEMO_IMAGE);
    server = await startTestServer({
      basePort: options.basePort,
      controlHost: hostAddress,
      healthTimeout: options.healthTimeout ?? '20',
      extra: { dockerHost: lab.manager.host },
    });
  } catch (error) {
    lab.destroy();
    throw error;
  }
  return {
    lab,
    server,
    admin: new ApiClient(`http://${hostAddress}:${options.basePort}`, ADMIN_TOKEN),
    registry,
    node: (name) => {
      const found = lab.nodes.find((n) => n.name === name);
      if (!found) throw new Error(`no lab node ${name}`);
      return found;
    },
    async destroy() {
      try {
        await server.destroy();
      } finally {
        lab.destroy();
      }
    },
  };
}

/** The nodes a service's running tasks are on, by the status the API answers. */
export async function taskNodes(api: ApiClient, service: string): Promise<string[]> {
  const status = await api.status(service);
  return (status.tasks as { last_status: string; node?: string }[]).filter((t) => t.last_status === 'RUNNING').map((t) => t.node ?? '?').sort();
}

/**
 * Requests a URL over and over from `workers` keep-alive connections until stopped, counting
 * every answer that is not a 200 and every error: what a user of the service would see fail.
 */
export class SteadyLoad {
  private running = true;
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 8 });
  private readonly loops: Promise<void>[];
  ok = 0;
  readonly failures: string[] = [];
  /** When each failed request was sent, by the clock of Date.now(). */
  readonly failedAt: number[] = [];

  constructor(
    private readonly url: string,
    readonly workers = 4,
  ) {
    this.loops = Array.from({ length: workers }, () => this.loop());
  }

  /** Waits until the load has seen `n` more successful answers, proof that it runs. */
  async atLeast(n: number): Promise<void> {
    const target = this.ok + n;
    await waitFor(`${n} answers under load`, async () => this.ok >= target, 30_000, 20);
  }

  async stop(): Promise<{ ok: number; failures: string[] }> {
    this.running = false;
    await Promise.all(this.loops);
    this.agent.destroy();
    return { ok: this.ok, failures: this.failures };
  }

  private async loop(): Promise<void> {
    while (this.running) {
      const sentAt = Date.now();
      const outcome = await this.get();
      if (outcome === 'ok') {
        this.ok++;
      } else {
        this.failures.push(outcome);
        this.failedAt.push(sentAt);
      }
    }
  }

  private get(): Promise<string> {
    return new Promise((resolve) => {
      const req = request(this.url, { agent: this.agent, timeout: 10_000 }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode === 200 ? 'ok' : `HTTP ${res.statusCode}`));
        res.on('error', (error) => resolve(error.message));
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', (error) => resolve((error as NodeJS.ErrnoException).code ?? error.message));
      req.end();
    });
  }
}
