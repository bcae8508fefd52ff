import { readdirSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { ProcessControlError } from './errors.js';

/** What /proc says about one process. */
export interface ProcessInfo {
  /** One letter: R, S, D, Z (zombie), X (dead) … */
  readonly state: string;
  readonly pgid: number;
  /** Clock ticks since boot: tells a process apart from a later one that got the same pid. */
  readonly startTime: string;
}

/** Null when no process has this pid. */
export function readProcessInfo(pid: number): ProcessInfo | null {
  const stat = readProcFile(`/proc/${pid}/stat`);
  if (stat === null) return null;
  // comm (field 2) may contain spaces and parentheses, so fields are counted after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const state = fields[0];
  const pgid = fields[2];
  const startTime = fields[19];
  if (state === undefined || pgid === undefined || startTime === undefined) {
    throw new ProcessControlError(`/proc/${pid}/stat has an unexpected format`);
  }
  return { state, pgid: Number(pgid), startTime };
}

/** A zombie has a pid but is not running: its parent has just not reaped it yet. */
export function isLive(info: ProcessInfo | null): info is ProcessInfo {
  return info !== null && info.state !== 'Z' && info.state !== 'X' && info.state !== 'x';
}

/**
 * True when the process runs `command`. Compares program basenames; a trailing ':' is
 * ignored because daemons such as nginx rewrite their title to "nginx: master process …".
 */
export function runsCommand(pid: number, command: string): boolean {
  const cmdline = readProcFile(`/proc/${pid}/cmdline`);
  if (cmdline === null) return false;
  const program = cmdline.split('\0')[0]?.split(' ')[0] ?? '';
  return basename(program).replace(/:$/, '') === basename(command);
}

/**
 * The running (non-zombie) processes of group pgid. Zombies are skipped: they hold no
 * sockets any more, and an init that reaps slowly would keep them around.
 */
export function liveGroupMembers(pgid: number): number[] {
  const members: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const info = readProcessInfo(Number(entry));
    if (isLive(info) && info.pgid === pgid) members.push(Number(entry));
  }
  return members;
}

/** Sends signal to pid; false when it is already gone. */
export function signalProcess(pid: number, signal: NodeJS.Signals): boolean {
  return signalTarget(pid, signal);
}

function signalTarget(target: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(target, signal);
    return true;
  } catch (error) {
    if (errorCode(error) === 'ESRCH') return false;
    throw error;
  }
}

function readProcFile(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    // ESRCH: the process went away while the file was being read.
    if (errorCode(error) === 'ENOENT' || errorCode(error) === 'ESRCH') return null;
    throw error;
  }
}

export function errorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null || !('code' in error)) return undefined;
  return typeof error.code === 'string' ? error.code : undefined;
}
