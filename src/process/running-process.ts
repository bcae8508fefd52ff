import { spawn } from 'node:child_process';
import { open } from 'node:fs/promises';
import { ProcessStartError } from './errors.js';
import { isLive, readProcessInfo, signalProcess, type ProcessInfo } from './proc-fs.js';

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * The environment of a child berth starts: only PATH and what the caller adds. berth's own
 * environment holds secrets such as BERTH_ADMIN_TOKEN, which nginx and the registry must
 * never see.
 */
export function childEnvironment(extra: Readonly<Record<string, string>> = {}): Record<string, string> {
  return { PATH: process.env.PATH ?? DEFAULT_PATH, ...extra };
}

/** One live process the supervisor watches, whether it spawned it or adopted it. */
export interface RunningProcess {
  readonly pid: number;
  /** The group to clean up after the process dies; null when the process does not lead its own group. */
  readonly pgid: number | null;
  /** Date.now() when it was spawned or adopted. */
  readonly since: number;
  /** Resolves once the process is gone (never rejects); stays pending after release(). */
  readonly exited: Promise<void>;
  alive(): boolean;
  /** Sends signal if the process still runs; false when it is gone. */
  kill(signal: NodeJS.Signals): boolean;
  /** Stops watching; the process is left as it is. */
  release(): void;
}

export interface SpawnSpec {
  readonly command: string;
  readonly args: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  readonly logFile: string;
}

/**
 * Spawns command in its own session (so it outlives berth and a later group kill reaches
 * its children), with stdout and stderr appended to the log file.
 */
export async function spawnDetached(spec: SpawnSpec): Promise<RunningProcess> {
  const log = await open(spec.logFile, 'a');
  try {
    const child = spawn(spec.command, [...spec.args], {
      detached: true,
      stdio: ['ignore', log.fd, log.fd],
      env: childEnvironment(spec.env),
    });
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', () => {
        child.off('error', reject);
        resolve();
      });
      child.once('error', reject);
    });
    child.unref();
    const pid = child.pid;
    if (pid === undefined) throw new ProcessStartError(`spawn of ${spec.command} reported no pid`);
    const alive = (): boolean => child.exitCode === null && child.signalCode === null;
    const exited = new Promise<void>((resolve) => {
      if (!alive()) resolve();
      else child.once('exit', () => resolve());
    });
    return {
      pid,
      pgid: pid,
      since: Date.now(),
      exited,
      alive,
      kill: (signal) => alive() && signalProcess(pid, signal),
      release: () => {
        child.removeAllListeners('exit');
      },
    };
  } finally {
    await log.close();
  }
}

/** Watches a process berth did not spawn (it is not our child, so no exit event): polls /proc. */
export function adoptProcess(pid: number, info: ProcessInfo, pollMs: number): RunningProcess {
  const alive = (): boolean => {
    const now = readProcessInfo(pid);
    return isLive(now) && now.startTime === info.startTime;
  };
  let timer: NodeJS.Timeout | undefined;
  const exited = new Promise<void>((resolve) => {
    timer = setInterval(() => {
      if (alive()) return;
      clearInterval(timer);
      resolve();
    }, pollMs);
  });
  return {
    pid,
    pgid: info.pgid === pid ? pid : null,
    since: Date.now(),
    exited,
    alive,
    kill: (signal) => alive() && signalProcess(pid, signal),
    release: () => clearInterval(timer),
  };
}
