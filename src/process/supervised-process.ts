import { appendFile, mkdir, readFile, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { writeFileAtomic } from '../fs/atomic-file.js';
import { ProcessControlError, ProcessNotRunningError, ProcessStartError } from './errors.js';
import { errorCode, isLive, liveGroupMembers, readProcessInfo, runsCommand, signalProcess } from './proc-fs.js';
import { adoptProcess, spawnDetached, type RunningProcess } from './running-process.js';
import type { Supervisor, SupervisorOptions } from './supervisor.js';
import { pollUntil, resolveWithin, settlesUnlessAborted, settlesWithin, sleep } from './wait.js';

export interface SupervisedProcessOptions extends SupervisorOptions {
  /** Runs before every spawn, never before an adoption: e.g. removes unix sockets a killed process left behind. */
  readonly beforeSpawn?: () => Promise<void>;
  /** How long stop() waits after SIGTERM before SIGKILL; default 5 s. */
  readonly stopGraceMs?: number;
}

/** An adopted process is not our child, so nothing tells us it died: /proc is polled this often. */
const ADOPTED_POLL_MS = 250;
const READY_POLL_MS = 100;
const RESTART_BASE_MS = 100;
const RESTART_CAP_MS = 5_000;
/** A process that ran this long before dying restarts at the base delay again. */
const STABLE_RUN_MS = 10_000;
const DEFAULT_STOP_GRACE_MS = 5_000;
const KILL_WAIT_MS = 2_000;

type Phase = 'idle' | 'starting' | 'running' | 'detached' | 'stopped';
type ReadyOutcome = 'ready' | 'timeout' | 'exited' | 'aborted';

/**
 * Keeps one long-lived process running across berth restarts. start() adopts the process
 * named by the pid file when it runs `command` and answers ready() (one that does not answer
 * is replaced), or spawns one detached. A process that dies is restarted with exponential
 * backoff; its leftover process group is killed first, because orphans (nginx workers after
 * a SIGKILLed master) would keep the listening sockets. Supervisor events are appended to
 * the process's log file.
 */
export class SupervisedProcess implements Supervisor {
  private phase: Phase = 'idle';
  private current: RunningProcess | null = null;
  private readonly readyListeners: (() => void)[] = [];
  private readonly halt = new AbortController();
  private starting: Promise<void> | undefined;
  private watching: Promise<void> | undefined;
  private lastReadyError: unknown;

  constructor(private readonly options: SupervisedProcessOptions) {}

  start(): Promise<void> {
    if (this.phase !== 'idle') {
      return Promise.reject(new ProcessStartError(`${this.options.name}: start() was already called`));
    }
    this.phase = 'starting';
    this.starting = this.startOnce();
    return this.starting;
  }

  onReady(listener: () => void): void {
    this.readyListeners.push(listener);
  }

  async detach(): Promise<void> {
    await this.haltWatching('detached');
    this.current?.release();
    this.current = null;
  }

  async stop(): Promise<void> {
    await this.haltWatching('stopped');
    const running = this.current;
    this.current = null;
    if (running !== null) await this.terminate(running);
    if (!this.options.writesOwnPidFile && running !== null) await this.removePidFile(running.pid);
  }

  signal(signal: NodeJS.Signals): void {
    const running = this.current;
    if (running === null || !running.kill(signal)) throw new ProcessNotRunningError(this.options.name);
  }

  pid(): number | null {
    return this.current?.pid ?? null;
  }

  private async haltWatching(phase: 'detached' | 'stopped'): Promise<void> {
    this.phase = phase;
    this.halt.abort();
    // start() callers get start's own rejection; here we only wait for both to have let go.
    await Promise.allSettled([this.starting, this.watching]);
  }

  private async startOnce(): Promise<void> {
    await mkdir(dirname(this.options.logFile), { recursive: true });
    try {
      if (!(await this.adopt())) await this.launch();
    } catch (error) {
      if (this.phase === 'starting') this.phase = 'stopped';
      throw error;
    }
    if (this.phase !== 'starting') {
      throw new ProcessStartError(`${this.options.name} was ${this.phase} before it became ready`);
    }
    this.phase = 'running';
    this.notifyReady();
    this.watching = this.watch().catch((error: unknown) => {
      this.log(`supervision of ${this.options.name} ended unexpectedly: ${describe(error)}`);
      process.emitWarning(error instanceof Error ? error : String(error), 'BerthSupervisorWarning');
    });
  }

  /** True when a live process from the pid file now is `current` (or start was halted meanwhile). */
  private async adopt(): Promise<boolean> {
    const pid = await readPidFile(this.options.pidFile);
    if (pid === null) return false;
    const info = readProcessInfo(pid);
    if (!isLive(info)) {
      // The leader died while nobody watched (berth was down): its children may live on.
      await this.killLeftovers(pid, { sameCommandOnly: true });
      return false;
    }
    if (!runsCommand(pid, this.options.command)) return false;
    const running = adoptProcess(pid, info, ADOPTED_POLL_MS);
    this.current = running;
    const outcome = await this.waitReady(running);
    if (outcome === 'ready') this.log(`adopted ${this.options.name} (pid ${pid}) from ${this.options.pidFile}`);
    if (outcome === 'ready' || outcome === 'aborted') return true;
    this.current = null;
    if (outcome === 'timeout') {
      this.log(`${this.options.name} (pid ${pid}) did not answer within ${this.options.readyTimeoutMs} ms; replacing it`);
      await this.terminate(running);
    } else {
      running.release();
      await this.killLeftovers(running.pgid);
    }
    return false;
  }

  /** Spawns and waits until ready; `current` is set as soon as the process exists so stop() can reach it. */
  private async launch(): Promise<void> {
    await this.options.beforeSpawn?.();
    let running: RunningProcess;
    try {
      running = await spawnDetached(this.options);
    } catch (error) {
      throw new ProcessStartError(`cannot spawn ${this.options.name} (${this.options.command}): ${describe(error)}`, {
        cause: error,
      });
    }
    this.current = running;
    if (!this.options.writesOwnPidFile) await writePidFile(this.options.pidFile, running.pid);
    const outcome = await this.waitReady(running);
    if (outcome === 'ready' || outcome === 'aborted') return;
    this.current = null;
    await this.terminate(running);
    const why =
      outcome === 'exited'
        ? `exited during startup`
        : `did not become ready within ${this.options.readyTimeoutMs} ms`;
    throw new ProcessStartError(`${this.options.name} (pid ${running.pid}) ${why}; see ${this.options.logFile}`, {
      cause: this.lastReadyError,
    });
  }

  private async waitReady(running: RunningProcess): Promise<ReadyOutcome> {
    const deadline = Date.now() + this.options.readyTimeoutMs;
    this.lastReadyError = undefined;
    for (;;) {
      if (this.halt.signal.aborted) return 'aborted';
      if (!running.alive()) return 'exited';
      const remaining = deadline - Date.now();
      if (remaining <= 0) return 'timeout';
      if (await this.answers(remaining)) return 'ready';
      await sleep(Math.min(READY_POLL_MS, Math.max(0, deadline - Date.now())), this.halt.signal);
    }
  }

  private async answers(withinMs: number): Promise<boolean> {
    try {
      return await resolveWithin(this.options.ready(), withinMs, false);
    } catch (error) {
      // Kept as the cause of the start error should the process never answer.
      this.lastReadyError = error;
      return false;
    }
  }

  private async watch(): Promise<void> {
    let crashes = 0;
    while (this.phase === 'running') {
      const running = this.current;
      if (running !== null) {
        if (!(await settlesUnlessAborted(running.exited, this.halt.signal))) return;
        this.current = null;
        running.release();
        crashes = Date.now() - running.since >= STABLE_RUN_MS ? 1 : crashes + 1;
        this.log(`${this.options.name} (pid ${running.pid}) exited; restarting in ${restartDelayMs(crashes)} ms`);
        await this.killLeftovers(running.pgid);
      }
      if (!(await sleep(restartDelayMs(crashes), this.halt.signal))) return;
      try {
        await this.launch();
      } catch (error) {
        crashes += 1;
        this.log(`restart of ${this.options.name} failed: ${describe(error)}`);
        continue;
      }
      if (this.phase !== 'running') return;
      this.log(`restarted ${this.options.name} (pid ${this.current?.pid ?? '?'})`);
      this.notifyReady();
    }
  }

  private async terminate(running: RunningProcess): Promise<void> {
    running.kill('SIGTERM');
    const grace = this.options.stopGraceMs ?? DEFAULT_STOP_GRACE_MS;
    if (!(await settlesWithin(running.exited, grace))) {
      this.log(`${this.options.name} (pid ${running.pid}) ignored SIGTERM for ${grace} ms; sending SIGKILL`);
      running.kill('SIGKILL');
      if (!(await settlesWithin(running.exited, KILL_WAIT_MS))) {
        running.release();
        throw new ProcessControlError(`${this.options.name} (pid ${running.pid}) survived SIGKILL`);
      }
    }
    running.release();
    await this.killLeftovers(running.pgid);
  }

  /**
   * Kills what is left of a dead leader's group: children that outlived it (nginx workers of
   * a killed master) would hold its ports. When berth did not see the leader die, only
   * members running the same command are taken for leftovers.
   */
  private async killLeftovers(pgid: number | null, options = { sameCommandOnly: false }): Promise<void> {
    if (pgid === null) return;
    const leftovers = (): number[] =>
      liveGroupMembers(pgid).filter((pid) => !options.sameCommandOnly || runsCommand(pid, this.options.command));
    const found = leftovers();
    if (found.length === 0) return;
    this.log(`killing processes left over from group ${pgid}: ${found.join(', ')}`);
    for (const pid of found) signalProcess(pid, 'SIGKILL');
    const gone = await pollUntil(() => leftovers().length === 0, { timeoutMs: KILL_WAIT_MS, intervalMs: 20 });
    if (!gone) this.log(`processes of group ${pgid} are still there ${KILL_WAIT_MS} ms after SIGKILL`);
  }

  private notifyReady(): void {
    for (const listener of this.readyListeners) {
      try {
        listener();
      } catch (error) {
        this.log(`a ready listener of ${this.options.name} failed: ${describe(error)}`);
      }
    }
  }

  private async removePidFile(pid: number): Promise<void> {
    if ((await readPidFile(this.options.pidFile)) === pid) await rm(this.options.pidFile, { force: true });
  }

  private log(message: string): void {
    appendFile(this.options.logFile, `${new Date().toISOString()} berth supervisor: ${message}\n`).catch(
      (error: unknown) => process.emitWarning(`cannot write ${this.options.logFile}: ${describe(error)}; ${message}`),
    );
  }
}

/** 100 ms after the first crash, doubling, capped at 5 s. */
function restartDelayMs(crashes: number): number {
  return Math.min(RESTART_CAP_MS, RESTART_BASE_MS * 2 ** Math.max(0, crashes - 1));
}

async function readPidFile(path: string): Promise<number | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return null;
    throw error;
  }
  // A torn or foreign file names no process we could adopt, so a fresh one is spawned.
  return /^\d+$/.test(text.trim()) ? Number(text.trim()) : null;
}

/** A reader never sees a half-written pid. */
async function writePidFile(path: string, pid: number): Promise<void> {
  await writeFileAtomic(path, `${pid}\n`, 0o644);
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
