import { TaskOnOtherNodeError } from '../../domain/node-errors.js';
import type { CommandOptions, CommandResult, ExecOptions, ExecSession, TaskExec } from '../task-exec.js';

/** Where a Swarm task's container is, as far as berth's own engine can tell. */
export interface LocalTasks {
  /** The node a running task with all of these labels is on, by name; null when none runs. */
  nodeOf(labels: Readonly<Record<string, string>>): Promise<string | null>;
  /** The container of Swarm task (service) `taskId` on berth's own engine; else the name of the node it is on. */
  containerOf(taskId: string): Promise<{ readonly container: string } | { readonly node: string }>;
}

/**
 * Commands in Swarm tasks, through the engine of berth's own node: the manager reaches no
 * other node's engine, but the tasks whose data lives on a machine (a volume or a host path:
 * databases, a stack's stateful services) run on berth's node (swarm-tasks.ts), and a Swarm
 * task's container carries the task's labels, so the local engine finds it as on one engine.
 * A task that runs on another node is refused with the node's name.
 */
export class SwarmExec implements TaskExec {
  constructor(
    /** The exec adapter of the manager's own engine. */
    private readonly local: TaskExec,
    private readonly tasks: LocalTasks,
  ) {}

  async exec(labels: Readonly<Record<string, string>>, options: ExecOptions): Promise<ExecSession | null> {
    const session = await this.local.exec(labels, options);
    if (session) return session;
    const node = await this.tasks.nodeOf(labels);
    if (node !== null) throw new TaskOnOtherNodeError(node);
    return null;
  }

  async run(taskId: string, options: CommandOptions): Promise<CommandResult> {
    const found = await this.tasks.containerOf(taskId);
    if ('node' in found) throw new TaskOnOtherNodeError(found.node);
    return this.local.run(found.container, options);
  }
}
