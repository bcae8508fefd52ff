import { createHash } from 'node:crypto';
import { chmod, mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomicIfChanged } from '../fs/atomic-file.js';
import { stackFileKey } from '../domain/compose/stack-spec.js';
import type { TaskRuntime } from '../runtime/task-runtime.js';
import { secretOwner, type SecretStore } from '../secrets/secret-store.js';
import type { Store } from '../store/store.js';
import type { Stack } from '../store/stacks.js';
import type { FailureLog } from './failure-log.js';
import { LABEL } from './labels.js';
import { stackFilesDir } from './stack-task.js';
import type { TaskOps } from './task-ops.js';

export interface StackControllerOptions {
  readonly instance: string;
  readonly stackFilesRoot: string;
}

/**
 * Stacks as a whole: the files their tasks mount (secrets and configs, written before a task
 * needs them), and their teardown — once `down` has taken every service of a stack away, its
 * networks go, its volumes with `-v`, its files, then the stack itself. Project networks and
 * volumes deleted through the API are removed from the runtime here too. The stack's services
 * are services: the service controller runs them.
 */
export class StackController {
  private readonly written = new Map<number, string>();

  constructor(
    private readonly store: Store,
    private readonly secrets: SecretStore,
    private readonly runtime: TaskRuntime,
    private readonly tasks: TaskOps,
    private readonly failures: FailureLog,
    private readonly options: StackControllerOptions,
  ) {}

  async reconcile(): Promise<boolean> {
    let busy = false;
    for (const stack of this.store.stacks.listAll()) {
      const key = `stack ${stack.project}/${stack.name}`;
      try {
        if (stack.status === 'DRAINING') busy = (await this.takeDown(stack)) || busy;
        else await this.writeFiles(stack);
        this.failures.succeeded(key);
      } catch (error) {
        this.failures.failed(key, (error as Error).message, (error as Error).stack ?? String(error));
      }
    }
    await this.removeDeletedResources();
    return busy;
  }

  /**
   * Writes the stack's secrets and configs when they changed (atomically), for its tasks to
   * mount. Secrets are opened from the secret store only here, on their way to the file.
   */
  private async writeFiles(stack: Stack): Promise<void> {
    const files = this.store.stacks.files(stack.id);
    for (const [name, value] of this.secrets.all(secretOwner.stack(stack.id))) files[stackFileKey('secret', name)] = value;
    const digest = createHash('sha256').update(JSON.stringify(files)).digest('hex');
    if (this.written.get(stack.id) === digest) return;
    const dir = stackFilesDir(this.options.stackFilesRoot, stack.project, stack.name);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    // Readable inside the task by its own user, whoever that is; the dir keeps other host users out.
    for (const [name, content] of Object.entries(files)) {
      await writeFileAtomicIfChanged(join(dir, name), content);
      // Explicitly: the mode asked at creation passes through the server's umask (077).
      await chmod(join(dir, name), 0o644);
    }
    for (const entry of await readdir(dir)) if (!(entry in files)) await rm(join(dir, entry), { force: true });
    this.written.set(stack.id, digest);
  }

  /** Answers true while the stack's services are still going away. */
  private async takeDown(stack: Stack): Promise<boolean> {
    const services = this.store.services.ofStack(stack.id);
    if (services.length > 0) {
      for (const service of services) if (service.status !== 'DRAINING') this.store.services.setStatus(service.id, 'DRAINING');
      return true;
    }
    const labels = { [LABEL.instance]: this.options.instance, [LABEL.project]: stack.project, [LABEL.stack]: stack.name };
    const inUse = await this.runtime.removeNetworks(labels);
    if (inUse.length > 0) return true;
    if (stack.removeVolumes && (await this.runtime.removeVolumes(labels)).length > 0) return true;
    await rm(stackFilesDir(this.options.stackFilesRoot, stack.project, stack.name), { recursive: true, force: true });
    this.written.delete(stack.id);
    this.tasks.forgetResources();
    this.store.stacks.delete(stack.id);
    return false;
  }

  /** Project networks and volumes removed through the API leave the runtime, then the store. */
  private async removeDeletedResources(): Promise<void> {
    for (const [kind, repository] of [['network', this.store.networks], ['volume', this.store.volumes]] as const) {
      for (const { project, name } of repository.deleting()) {
        const labels = { [LABEL.instance]: this.options.instance, [LABEL.project]: project, [LABEL.resource]: name };
        const inUse = kind === 'network' ? await this.runtime.removeNetworks(labels) : await this.runtime.removeVolumes(labels);
        this.tasks.forgetResources();
        // Still used by a task going away: the next pass tries again.
        if (inUse.length === 0) repository.delete(project, name);
      }
    }
  }
}
