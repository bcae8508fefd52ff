import type Docker from 'dockerode';
import type { Readable } from 'node:stream';
import { TaskSignalUnsupportedError } from '../../domain/node-errors.js';
import { parseImageReference } from '../../domain/image-reference.js';
import { engineCall, statusOf, tolerating, wrapEngineError } from '../docker/engine-errors.js';
import { logOptions, readFollowedLines, readLogOutput } from '../docker/log-frames.js';
import { labelFilters } from '../docker/tasks.js';
import type { LogLine, TaskDetails, TaskSpec, TaskSummary } from '../task-runtime.js';
import { serviceSpec, STOP_CONSTRAINT } from './service-spec.js';
import type { SwarmNodes } from './swarm-nodes.js';
import { currentTask, detailsOf, isStopped, summaryOf, type SwarmService, type SwarmTask } from './task-view.js';

/** Berth's tasks as Swarm services of one replica each (service-spec.ts says why). */
export class SwarmTasks {
  /** The manager's own node id, once asked. */
  private selfId: Promise<string> | null = null;

  constructor(
    private readonly docker: Docker,
    private readonly streams: Docker,
    private readonly nodes: SwarmNodes,
    private readonly stopGraceMs: number,
  ) {}

  async list(labels: Readonly<Record<string, string>>): Promise<TaskSummary[]> {
    const filters = { label: labelFilters(labels) };
    const [services, tasks, nodes] = await Promise.all([
      engineCall('list services', () => this.docker.listServices({ filters }) as Promise<unknown> as Promise<SwarmService[]>),
      engineCall('list Swarm tasks', () => this.docker.listTasks({ filters }) as Promise<SwarmTask[]>),
      this.nodes.states(),
    ]);
    const byService = new Map<string, SwarmTask[]>();
    for (const task of tasks) {
      const list = byService.get(task.ServiceID);
      if (list) list.push(task);
      else byService.set(task.ServiceID, [task]);
    }
    return services.map((service) => summaryOf(service, byService.get(service.ID) ?? [], nodes));
  }

  async inspect(id: string): Promise<TaskDetails | null> {
    const found = await this.find(id);
    if (!found) return null;
    return detailsOf(found.service, found.tasks, await this.nodes.states());
  }

  async create(spec: TaskSpec): Promise<string> {
    const image = await this.pinned(spec.image);
    const placed = { ...spec, constraints: [...(spec.constraints ?? []), ...(await this.stateConstraints(spec))] };
    const service = serviceSpec(placed, { image, stopGraceMs: this.stopGraceMs });
    const created = await engineCall(`create Swarm service for ${spec.name}`, () =>
      spec.pullAuth ? this.docker.createService(spec.pullAuth, service) : this.docker.createService(service),
    );
    return (created as unknown as { id?: string; ID?: string }).id ?? (created as unknown as { ID: string }).ID;
  }

  /**
   * SIGTERM and SIGKILL stop the task (Swarm sends its stop signal, then SIGKILL after its
   * grace period); Swarm delivers no other signal to a task.
   */
  async signal(id: string, signal: string): Promise<void> {
    if (signal !== 'SIGTERM' && signal !== 'SIGKILL') throw new TaskSignalUnsupportedError(signal);
    const found = await this.find(id);
    if (!found || isStopped(found.service)) return;
    const { service } = found;
    const spec = service.Spec as Docker.ServiceSpec & { TaskTemplate: Docker.ContainerTaskSpec };
    const constraints = [...(spec.TaskTemplate.Placement?.Constraints ?? []), STOP_CONSTRAINT];
    await engineCall(`stop Swarm service ${id.slice(0, 12)}`, () =>
      tolerating([404], () =>
        this.docker.getService(id).update({
          version: service.Version?.Index,
          ...spec,
          TaskTemplate: { ...spec.TaskTemplate, Placement: { ...spec.TaskTemplate.Placement, Constraints: constraints } },
        }),
      ),
    );
  }

  async remove(id: string): Promise<void> {
    await engineCall(`remove Swarm service ${id.slice(0, 12)}`, () => tolerating([404], () => this.docker.getService(id).remove()));
  }

  async logs(id: string, options: { tail: number; since?: Date }): Promise<LogLine[]> {
    if (!(await this.logsReachable(id))) return [];
    return readLogOutput(() => this.docker.getService(id).logs(logOptions(options)), `read the logs of Swarm service ${id.slice(0, 12)}`);
  }

  async followLogs(id: string, options: { tail: number; signal: AbortSignal; onLine: (line: LogLine) => void }): Promise<void> {
    if (!(await this.logsReachable(id))) return;
    let stream: Readable;
    try {
      stream = (await this.streams.getService(id).logs({ stdout: true, stderr: true, timestamps: true, tail: options.tail, follow: true, abortSignal: options.signal } as never)) as unknown as Readable;
    } catch (error) {
      if (statusOf(error) === 404 || options.signal.aborted) return;
      throw wrapEngineError(`follow the logs of Swarm service ${id.slice(0, 12)}`, error);
    }
    await readFollowedLines(stream, options.signal, options.onLine, `follow the logs of Swarm service ${id.slice(0, 12)}`);
  }

  /**
   * A volume or a host path lives on one machine, not on the Swarm: a task that mounts one
   * runs on the node berth talks to (the machine berth and its data dir are on), so that it
   * finds its data again wherever it is replaced from. So does a task berth runs commands in
   * (`local`): the manager reaches its own engine only.
   */
  private async stateConstraints(spec: TaskSpec): Promise<string[]> {
    if (spec.local !== true && !spec.mounts.some((m) => m.kind !== 'tmpfs')) return [];
    this.selfId ??= engineCall('describe the manager', () => this.docker.info()).then((info) => (info as { Swarm?: { NodeID?: string } }).Swarm?.NodeID ?? '');
    const id = await this.selfId.catch((error: unknown) => {
      this.selfId = null;
      throw error;
    });
    return id ? [`node.id==${id}`] : [];
  }

  /** A service and its Swarm tasks; null when the service is gone. */
  private async find(id: string): Promise<{ service: SwarmService; tasks: SwarmTask[] } | null> {
    let service: SwarmService;
    try {
      service = (await this.docker.getService(id).inspect()) as SwarmService;
    } catch (error) {
      if (statusOf(error) === 404) return null;
      throw wrapEngineError(`inspect Swarm service ${id.slice(0, 12)}`, error);
    }
    const tasks = (await engineCall(`list the tasks of Swarm service ${id.slice(0, 12)}`, () =>
      this.docker.listTasks({ filters: { service: [service.ID] } }),
    )) as SwarmTask[];
    return { service, tasks };
  }

  /** The manager asks the task's node for its logs: one that is down would keep the call waiting. */
  private async logsReachable(id: string): Promise<boolean> {
    const found = await this.find(id);
    if (!found) return false;
    const node = currentTask(found.service, found.tasks)?.NodeID;
    if (!node) return false;
    return (await this.nodes.states()).get(node)?.up ?? false;
  }

  /**
   * The reference every node runs: pinned to the manager's copy by digest when it came from
   * a registry (a node that lacks it pulls exactly that), else by image id (an image built or
   * loaded on the nodes, which they run without trying a registry). An image the manager
   * does not hold is left to the nodes to pull.
   */
  private async pinned(reference: string): Promise<string> {
    let image: Docker.ImageInspectInfo;
    try {
      image = await this.docker.getImage(reference).inspect();
    } catch (error) {
      if (statusOf(error) === 404) return reference;
      throw wrapEngineError(`inspect image ${reference}`, error);
    }
    const ref = parseImageReference(reference);
    if (ref.digest !== null) return reference;
    const repository = reference.slice(0, reference.length - (ref.tag === null ? 0 : ref.tag.length + 1));
    const digest = (image.RepoDigests ?? []).find((d) => d.startsWith(`${repository}@`));
    return digest ? `${reference}@${digest.slice(digest.indexOf('@') + 1)}` : image.Id;
  }
}
