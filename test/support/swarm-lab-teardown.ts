import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';

/**
 * What a lab of Docker engines in network namespaces leaves on the host, and how to remove
 * it. Everything is named after the lab's number, so a lab left by a run that was killed is
 * found and removed by the next run that takes the same number, and nothing else is touched.
 */
export interface LabNames {
  readonly lab: number;
  /** The host's bridge the nodes' veths hang on; at most 15 characters. */
  readonly bridge: string;
  /** 10.250.<lab>: the bridge is .1, node i is .1i. */
  readonly prefix: string;
  readonly runDir: string;
  readonly dataDir: string;
  netns(node: number): string;
  hostVeth(node: number): string;
  nodeVeth(node: number): string;
  /** The cgroup every task container of the node lives under (dockerd --cgroup-parent). */
  cgroup(node: number): string;
}

export const MAX_LAB_NODES = 5;

export function labNames(lab: number): LabNames {
  if (!Number.isInteger(lab) || lab < 1 || lab > 15) throw new Error(`lab number must be 1…15, not ${lab}`);
  return {
    lab,
    bridge: `bsw${lab}`,
    prefix: `10.250.${lab}`,
    runDir: `/run/berth-swarm-test-${lab}`,
    dataDir: `/tmp/berth-swarm-test-${lab}`,
    netns: (node) => `bsw${lab}n${node}`,
    hostVeth: (node) => `vsw${lab}n${node}h`,
    nodeVeth: (node) => `vsw${lab}n${node}c`,
    cgroup: (node) => `berth-swarm-test-${lab}-n${node}`,
  };
}

/**
 * The rule that lets the lab's nodes talk across the host bridge: the host's engine sets
 * FORWARD to DROP and keeps DOCKER-USER for rules of this kind; a host without it takes the
 * rule in FORWARD.
 */
export function forwardRule(names: LabNames, chain = forwardChain()): string[] {
  return [chain, '-i', names.bridge, '-o', names.bridge, '-j', 'ACCEPT'];
}

function forwardChain(): string {
  try {
    execFileSync('iptables', ['-n', '-L', 'DOCKER-USER'], { stdio: 'ignore', timeout: 10_000 });
    return 'DOCKER-USER';
  } catch {
    return 'FORWARD';
  }
}

function quiet(command: string, args: readonly string[]): string {
  try {
    return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 20_000 });
  } catch {
    // Removing what may not be there: absence is the goal.
    return '';
  }
}

/** Every process of a node: its engine, containerd and shims (in its network namespace) and its tasks (in its cgroup). */
export function nodePids(names: LabNames, node: number): number[] {
  const pids = new Set<number>();
  for (const line of quiet('ip', ['netns', 'pids', names.netns(node)]).split('\n')) {
    if (/^\d+$/.test(line.trim())) pids.add(Number(line.trim()));
  }
  for (const root of cgroupRoots(names.cgroup(node))) {
    if (!existsSync(root)) continue;
    for (const entry of [root, ...readdirSync(root, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => `${root}/${e.name}`)]) {
      try {
        for (const line of readFileSync(`${entry}/cgroup.procs`, 'utf8').split('\n')) if (line) pids.add(Number(line));
      } catch {
        // The cgroup went away meanwhile.
      }
    }
  }
  pids.delete(process.pid);
  return [...pids];
}

/** Where a cgroup's directories are: one per controller (cgroup v1), or one (v2, unified). */
function cgroupRoots(cgroup: string): string[] {
  if (existsSync('/sys/fs/cgroup/cgroup.controllers')) return [`/sys/fs/cgroup/${cgroup}`];
  return ['pids', 'memory', 'cpu,cpuacct', 'blkio', 'cpuset', 'devices', 'freezer', 'systemd'].map((c) => `/sys/fs/cgroup/${c}/${cgroup}`);
}

/** Kills every process of the node at once, as a machine that loses power. */
export function killNodeProcesses(names: LabNames, node: number): void {
  for (let round = 0; round < 5; round++) {
    const pids = nodePids(names, node);
    if (pids.length === 0) return;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    // A shim may start a process while it dies; look again.
    execFileSync('sleep', ['0.2']);
  }
}

/** Mount points under `prefix` (the nodes' engines mount overlays and namespaces in the host's mount namespace). */
function mountsUnder(prefix: string): string[] {
  const points: string[] = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const point = line.split(' ')[4];
    if (point && (point === prefix || point.startsWith(`${prefix}/`))) points.push(point.replace(/\\040/g, ' '));
  }
  return points.sort((a, b) => b.length - a.length);
}

/** Removes everything a lab of this number may have left: processes, mounts, namespaces, links, the forward rule, files. */
export function removeLab(names: LabNames): void {
  for (let node = 1; node <= MAX_LAB_NODES; node++) killNodeProcesses(names, node);
  for (const prefix of [names.runDir, names.dataDir]) {
    for (const point of mountsUnder(prefix)) quiet('umount', ['-l', point]);
  }
  for (let node = 1; node <= MAX_LAB_NODES; node++) {
    quiet('ip', ['netns', 'del', names.netns(node)]);
    quiet('ip', ['link', 'del', names.hostVeth(node)]);
    for (const root of cgroupRoots(names.cgroup(node))) {
      if (!existsSync(root)) continue;
      for (const entry of readdirSync(root, { withFileTypes: true })) if (entry.isDirectory()) quiet('rmdir', [`${root}/${entry.name}`]);
      quiet('rmdir', [root]);
    }
  }
  quiet('ip', ['link', 'del', names.bridge]);
  // The rule may have been inserted more than once by runs that died early.
  for (const chain of ['DOCKER-USER', 'FORWARD']) {
    for (let i = 0; i < 10 && ruleExists(names, chain); i++) quiet('iptables', ['-D', ...forwardRule(names, chain)]);
  }
  rmSync(names.runDir, { recursive: true, force: true });
  rmSync(names.dataDir, { recursive: true, force: true });
}

function ruleExists(names: LabNames, chain: string): boolean {
  try {
    execFileSync('iptables', ['-C', ...forwardRule(names, chain)], { stdio: 'ignore', timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}
