import { spawn } from 'node:child_process';
import { mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import { childEnvironment } from '../process/running-process.js';
import { SupervisedProcess } from '../process/supervised-process.js';
import type { Supervisor } from '../process/supervisor.js';
import { readFileIfExists, writeFileAtomicIfChanged } from '../fs/atomic-file.js';
import { RegistryUnavailableError } from './errors.js';
import { renderRegistryConfig, type RegistryConfigInput } from './registry-config.js';

export interface RegistryProcessOptions {
  /** `<dataDir>/registry`: config, pid file, log and (by the caller's config) storage live here. */
  readonly registryDir: string;
  readonly config: RegistryConfigInput;
  /** host:port where berth reaches the registry it listens on. */
  readonly localAddress: string;
  /** Defaults to `docker-registry`, Debian's name for the Distribution binary. */
  readonly command?: string;
  readonly readyTimeoutMs?: number;
  readonly gcTimeoutMs?: number;
}

const DEFAULT_READY_TIMEOUT_MS = 15_000;
const DEFAULT_GC_TIMEOUT_MS = 10 * 60_000;
const PROBE_TIMEOUT_MS = 1_000;

/**
 * The Distribution registry as a supervised child process that outlives the
 * server, plus garbage collection. Every lifecycle step runs through one
 * queue, because garbage collection must never run while the registry
 * serves writes: it stops the registry, collects, and starts it again.
 */
export class RegistryProcess {
  readonly configFile: string;
  readonly pidFile: string;
  readonly logFile: string;
  private readonly command: string;
  private supervisor: Supervisor | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  /** A collection queued but not begun; deletions arriving meanwhile share it. */
  private pendingGc: Promise<void> | null = null;

  constructor(private readonly options: RegistryProcessOptions) {
    this.configFile = join(options.registryDir, 'config.yml');
    this.pidFile = join(options.registryDir, 'registry.pid');
    this.logFile = join(options.registryDir, 'registry.log');
    this.command = options.command ?? 'docker-registry';
  }

  /**
   * Writes the config and adopts the running registry or starts one. An
   * adopted registry that was started with another config (say the API base
   * URL changed) is restarted, since Distribution reads its config only once.
   */
  start(): Promise<void> {
    return this.enqueue(async () => {
      await mkdir(this.options.config.storageDir, { recursive: true, mode: 0o700 });
      const changed = await writeFileAtomicIfChanged(this.configFile, renderRegistryConfig(this.options.config));
      const previousPid = await this.recordedPid();
      await this.launch();
      const adopted = previousPid !== null && this.supervisor?.pid() === previousPid;
      if (changed && adopted) await this.restart();
    });
  }

  /** Stops watching; the registry keeps serving for the next server to adopt. */
  detach(): Promise<void> {
    return this.enqueue(async () => {
      await this.supervisor?.detach();
      this.supervisor = null;
    });
  }

  stop(): Promise<void> {
    return this.enqueue(async () => {
      await this.supervisor?.stop();
      this.supervisor = null;
    });
  }

  pid(): number | null {
    return this.supervisor?.pid() ?? null;
  }

  /**
   * Deletes blobs no manifest references any more. Without --delete-untagged
   * on purpose: Distribution 2.8 then also deletes the untagged platform
   * manifests a tagged image index points to, which breaks every multi-arch
   * or attestation-carrying (buildx default) image. See ADR 003.
   */
  garbageCollect(): Promise<void> {
    if (this.pendingGc) return this.pendingGc;
    const gc = this.enqueue(async () => {
      this.pendingGc = null;
      const wasRunning = this.supervisor !== null;
      await this.supervisor?.stop();
      this.supervisor = null;
      const failure = await this.runGarbageCollector().then(
        () => null,
        (error: unknown) => error,
      );
      // Serving again comes first; a failed collection only leaves garbage for the next one.
      if (wasRunning) await this.launch();
      if (failure !== null) throw failure;
    });
    this.pendingGc = gc;
    return gc;
  }

  /**
   * Runs `step` between lifecycle steps, so it never meets a collection with
   * the registry stopped; used for berth's own writes, such as deleting
   * manifests right before collecting their blobs.
   */
  exclusive<T>(step: () => Promise<T>): Promise<T> {
    return this.enqueue(step);
  }

  private async restart(): Promise<void> {
    await this.supervisor?.stop();
    this.supervisor = null;
    await this.launch();
  }

  /** A stopped supervisor is not reused: each start gets a fresh one. */
  private async launch(): Promise<void> {
    const supervisor = new SupervisedProcess({
      name: 'registry',
      command: this.command,
      args: ['serve', this.configFile],
      pidFile: this.pidFile,
      writesOwnPidFile: false,
      ready: () => this.answers(),
      readyTimeoutMs: this.options.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS,
      logFile: this.logFile,
    });
    await supervisor.start();
    this.supervisor = supervisor;
  }

  /**
   * Ready once `/v2/` answers as a Distribution registry would: 401 with
   * token auth on. The version header tells our registry from anything else
   * that might hold the port.
   */
  private async answers(): Promise<boolean> {
    let response: Response;
    try {
      response = await fetch(`http://${this.options.localAddress}/v2/`, {
        signal: AbortSignal.timeout(PROBE_TIMEOUT_MS),
      });
    } catch {
      // Refused or timed out: not up yet. The supervisor bounds how long it keeps asking.
      return false;
    }
    await response.body?.cancel();
    const isRegistry = response.headers.get('docker-distribution-api-version') === 'registry/2.0';
    return isRegistry && (response.status === 401 || response.status === 200);
  }

  private async runGarbageCollector(): Promise<void> {
    const log = await open(this.logFile, 'a', 0o600);
    try {
      const timeoutMs = this.options.gcTimeoutMs ?? DEFAULT_GC_TIMEOUT_MS;
      const child = spawn(this.command, ['garbage-collect', this.configFile], {
        stdio: ['ignore', log.fd, log.fd],
        env: childEnvironment(),
        timeout: timeoutMs,
        killSignal: 'SIGKILL',
      });
      const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
        child.once('error', reject);
        child.once('exit', (exitCode, exitSignal) => resolve([exitCode, exitSignal]));
      });
      if (code !== 0) {
        const why = signal === null ? `exited with ${code}` : `was killed by ${signal} (its time limit is ${timeoutMs} ms)`;
        throw new RegistryUnavailableError(`Registry garbage collection ${why}; see ${this.logFile}`);
      }
    } finally {
      await log.close();
    }
  }

  private async recordedPid(): Promise<number | null> {
    const text = await readFileIfExists(this.pidFile);
    const pid = text === null ? NaN : Number.parseInt(text.trim(), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  }

  private enqueue<T>(step: () => Promise<T>): Promise<T> {
    const run = this.queue.then(step);
    // The queue only orders steps; each caller gets its own step's outcome.
    this.queue = run.catch(() => undefined);
    return run;
  }
}
