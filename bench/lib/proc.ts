import { readdirSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

let ticksPerSecond: number | null = null;

function clockTicks(): number {
  ticksPerSecond ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  return ticksPerSecond;
}

/** [ppid, user + system CPU in clock ticks] from /proc/<pid>/stat; null when the process is gone. */
function stat(pid: number): [number, number] | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // comm (field 2) may contain spaces; count fields after its closing parenthesis.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return [Number(fields[1]), Number(fields[11]) + Number(fields[12])];
}

/** A process and its direct children (nginx's master and workers). */
function treeOf(pid: number): number[] {
  const pids = [pid];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    if (stat(Number(entry))?.[0] === pid) pids.push(Number(entry));
  }
  return pids;
}

/** CPU time (ms) a process and its direct children have used so far. */
export function cpuMsOfTree(pid: number): number {
  const ticks = treeOf(pid).reduce((sum, p) => sum + (stat(p)?.[1] ?? 0), 0);
  return (ticks * 1000) / clockTicks();
}

/** Restricts a process and its direct children, all their threads, to the CPUs given as a taskset list ("0", "0-1"). */
export function pinTree(pid: number, cpus: string): void {
  for (const p of treeOf(pid)) execFileSync('taskset', ['-a', '-p', '-c', cpus, String(p)], { stdio: 'ignore' });
}

export function readPid(file: string): number {
  const pid = Number(readFileSync(file, 'utf8').trim());
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`${file} holds no pid`);
  return pid;
}
