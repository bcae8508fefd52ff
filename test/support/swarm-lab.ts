import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, writeFileSync } from 'node:fs';
import { waitFor } from './docker-harness.js';
import { forwardRule, killNodeProcesses, labNames, MAX_LAB_NODES, removeLab, type LabNames } from './swarm-lab-teardown.js';

/**
 * A real Docker Swarm of several engines on this machine (notes/swarm-on-one-machine.md):
 * each node is a dockerd in its own network and UTS namespace (its own address and host name)
 * on a bridge of the host, with its own data dir, socket and cgroup. Node 1 is the manager.
 * The lab removes everything it made when destroyed, at process exit, and, for a run that
 * was killed, when the next lab of the same number is made. Traffic goes only to the nodes'
 * addresses (10.250.<lab>.1x) and the host's address on their bridge (10.250.<lab>.1): nodes
 * have no default route, so nothing they try reaches beyond.
 */
export interface LabNode {
  readonly index: number;
  readonly name: string;
  readonly address: string;
  readonly socket: string;
  /** `unix://…`, for `docker -H` and berth's --docker-host. */
  readonly host: string;
}

export interface SwarmLabOptions {
  /** 1…15; picks the subnet 10.250.<lab>.0/24 and the names. Tests and benches that may run at once take different numbers. */
  readonly lab: number;
  readonly nodes: number;
  /** Swarm's dispatcher heartbeat: a dead node is noticed after a few of them (default 5 s). */
  readonly heartbeatSeconds?: number;
  /** host:port registries the engines may reach over plain HTTP (berth's registry on the host's bridge address). */
  readonly insecureRegistries?: readonly string[];
}

const labs = new Set<SwarmLab>();
let exitHookInstalled = false;

export class SwarmLab {
  private readonly engines = new Map<number, ChildProcess>();
  private destroyed = false;

  private constructor(
    readonly names: LabNames,
    readonly nodes: readonly LabNode[],
    private readonly options: SwarmLabOptions,
  ) {}

  /** The host's address on the lab's bridge: what the nodes reach the host (berth's registry and API) at. */
  get hostAddress(): string {
    return `${this.names.prefix}.1`;
  }

  get manager(): LabNode {
    return this.nodes[0] as LabNode;
  }

  static async create(options: SwarmLabOptions): Promise<SwarmLab> {
    if (options.nodes < 1 || options.nodes > MAX_LAB_NODES) throw new Error(`a lab has 1…${MAX_LAB_NODES} nodes`);
    const names = labNames(options.lab);
    removeLab(names);
    const nodes: LabNode[] = [];
    for (let i = 1; i <= options.nodes; i++) {
      const socket = `${names.runDir}/node${i}.sock`;
      nodes.push({ index: i, name: i === 1 ? 'manager-1' : `worker-${i}`, address: `${names.prefix}.1${i}`, socket, host: `unix://${socket}` });
    }
    const lab = new SwarmLab(names, nodes, options);
    labs.add(lab);
    installExitHook();
    try {
      lab.makeNetwork();
      for (const node of nodes) lab.startEngine(node);
      await Promise.all(nodes.map((node) => lab.waitForEngine(node)));
      await lab.formSwarm();
    } catch (error) {
      lab.destroy();
      throw error;
    }
    return lab;
  }

  /** Runs the docker CLI against one node. */
  docker(node: LabNode, ...args: string[]): Promise<string> {
    return new Promise((resolve, reject) => {
      execFile('docker', ['-H', node.host, ...args], { encoding: 'utf8', timeout: 120_000, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
        if (error) reject(new Error(`docker -H ${node.name} ${args.join(' ')}: ${stderr || error.message}`));
        else resolve(stdout.trim());
      });
    });
  }

  /** Copies images from the host's engine into every node (nothing can be pulled here). */
  async loadImages(...images: string[]): Promise<void> {
    const tar = `${this.names.dataDir}/images-${Date.now()}.tar`;
    execFileSync('docker', ['save', '-o', tar, ...images], { stdio: 'ignore', timeout: 120_000 });
    await Promise.all(this.nodes.map((node) => this.docker(node, 'load', '-i', tar)));
  }

  /** Every process of the node dies at once: its engine, containerd, shims and tasks. */
  killNode(node: LabNode): void {
    this.engines.get(node.index)?.removeAllListeners();
    this.engines.delete(node.index);
    killNodeProcesses(this.names, node.index);
  }

  /** Starts a killed node's engine again on its data dir: it rejoins the Swarm as the same node. */
  async reviveNode(node: LabNode): Promise<void> {
    this.startEngine(node);
    await this.waitForEngine(node);
    await waitFor(`${node.name} to be ready again`, async () => {
      const state = await this.docker(this.manager, 'node', 'inspect', node.name, '--format', '{{.Status.State}}');
      return state === 'ready';
    }, 60_000, 200);
  }

  /** Removes every node, namespace, link, rule, mount and file of the lab. Safe to call twice. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    labs.delete(this);
    removeLab(this.names);
  }

  private makeNetwork(): void {
    const { names } = this;
    mkdirSync(names.runDir, { recursive: true });
    mkdirSync(names.dataDir, { recursive: true });
    run('ip', ['link', 'add', names.bridge, 'type', 'bridge']);
    run('ip', ['addr', 'add', `${this.hostAddress}/24`, 'dev', names.bridge]);
    run('ip', ['link', 'set', names.bridge, 'up']);
    run('iptables', ['-I', ...forwardRule(names)]);
    for (const node of this.nodes) {
      const ns = names.netns(node.index);
      const inside = names.nodeVeth(node.index);
      run('ip', ['netns', 'add', ns]);
      run('ip', ['link', 'add', names.hostVeth(node.index), 'type', 'veth', 'peer', 'name', inside]);
      run('ip', ['link', 'set', names.hostVeth(node.index), 'master', names.bridge, 'up']);
      run('ip', ['link', 'set', inside, 'netns', ns]);
      run('ip', ['-n', ns, 'addr', 'add', `${node.address}/24`, 'dev', inside]);
      run('ip', ['-n', ns, 'link', 'set', inside, 'up']);
      run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    }
  }

  private startEngine(node: LabNode): void {
    const { names } = this;
    const dir = `${names.dataDir}/node${node.index}`;
    mkdirSync(dir, { recursive: true });
    // The host's /etc/docker/daemon.json is the host engine's, not the nodes'.
    writeFileSync(`${dir}/daemon.json`, '{}\n');
    const registries = (this.options.insecureRegistries ?? []).flatMap((r) => ['--insecure-registry', r]);
    const dockerd = [
      'dockerd', '--config-file', `${dir}/daemon.json`, '--data-root', `${dir}/data`, '--exec-root', `${names.runDir}/node${node.index}`,
      '-H', node.host, '--pidfile', `${names.runDir}/node${node.index}.pid`,
      // cgroupfs whatever the host's engine uses: a plain path as the parent, found again by killNode.
      '--exec-opt', 'native.cgroupdriver=cgroupfs', '--cgroup-parent', `/${names.cgroup(node.index)}`, ...registries,
    ];
    const log = openSync(`${dir}/dockerd.log`, 'a');
    // nsenter, not `ip netns exec`, which remounts /sys and leaves dockerd without its cgroups;
    // setpriv makes the engine die with this process, whatever ends it.
    const child = spawn(
      'nsenter',
      [`--net=/var/run/netns/${names.netns(node.index)}`, 'setpriv', '--pdeathsig', 'KILL', 'unshare', '--uts', 'sh', '-c', `hostname ${node.name} && exec "$@"`, 'sh', ...dockerd],
      { stdio: ['ignore', log, log] },
    );
    child.on('exit', (code, signal) => {
      if (!this.destroyed && this.engines.get(node.index) === child) process.emitWarning(`lab engine ${node.name} exited (${code ?? signal})`);
    });
    this.engines.set(node.index, child);
  }

  private async waitForEngine(node: LabNode): Promise<void> {
    await waitFor(`engine ${node.name} to answer`, async () => (await this.docker(node, 'version', '--format', '{{.Server.Version}}')) !== '', 60_000, 200);
  }

  private async formSwarm(): Promise<void> {
    const { manager } = this;
    const pool = `10.251.${this.names.lab * 16}.0/20`;
    await this.docker(manager, 'swarm', 'init', '--advertise-addr', manager.address, '--default-addr-pool', pool, '--default-addr-pool-mask-length', '24',
      '--dispatcher-heartbeat', `${this.options.heartbeatSeconds ?? 5}s`);
    const token = await this.docker(manager, 'swarm', 'join-token', '-q', 'worker');
    await Promise.all(this.nodes.slice(1).map((node) => this.docker(node, 'swarm', 'join', '--token', token, `${manager.address}:2377`)));
    await waitFor('every node to be ready', async () => {
      const states = (await this.docker(manager, 'node', 'ls', '--format', '{{.Status}}')).split('\n');
      return states.length === this.nodes.length && states.every((s) => s === 'Ready');
    }, 60_000, 200);
  }
}

function run(command: string, args: readonly string[]): void {
  execFileSync(command, args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: 20_000 });
}

/** A test runner that exits without its afterAll (a failed hook, a timeout) still removes its labs. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const lab of labs) lab.destroy();
  });
}
