import type { TaskDetails, TaskState, TaskSummary } from '../task-runtime.js';
import { IMAGE_LABEL, STOP_CONSTRAINT } from './service-spec.js';

/** The parts of the Engine API's Swarm objects berth reads. */
export interface SwarmService {
  readonly ID: string;
  readonly CreatedAt?: string;
  readonly Version?: { readonly Index?: number };
  readonly Spec: {
    readonly Name?: string;
    readonly Labels?: Record<string, string>;
    readonly TaskTemplate?: {
      readonly ContainerSpec?: { readonly Image?: string; readonly Env?: string[]; readonly HealthCheck?: unknown; readonly Mounts?: { Source?: string }[] };
      readonly Resources?: { readonly Limits?: { MemoryBytes?: number }; readonly Reservations?: { MemoryBytes?: number } };
      readonly Placement?: { readonly Constraints?: string[] };
    };
  };
}

export interface SwarmTask {
  readonly ID: string;
  readonly ServiceID: string;
  readonly NodeID?: string;
  readonly CreatedAt?: string;
  readonly DesiredState?: string;
  readonly Status?: {
    readonly Timestamp?: string;
    readonly State?: string;
    readonly Message?: string;
    readonly Err?: string;
    readonly ContainerStatus?: { readonly ContainerID?: string; readonly ExitCode?: number };
    readonly PortStatus?: { readonly Ports?: { TargetPort?: number; PublishedPort?: number; PublishMode?: string }[] };
  };
}

/** A node as the task view needs it. */
export interface NodeState {
  readonly name: string;
  readonly address: string;
  readonly up: boolean;
  /** berth drains it, or Swarm does: its tasks are to move. */
  readonly evicting: boolean;
}

const WAITING = new Set(['new', 'allocated', 'pending', 'assigned', 'accepted', 'preparing', 'ready', 'starting']);

/** Whether berth has stopped the task (its service carries the constraint no node satisfies). */
export function isStopped(service: SwarmService): boolean {
  return service.Spec.TaskTemplate?.Placement?.Constraints?.includes(STOP_CONSTRAINT) ?? false;
}

/**
 * The Swarm task that is the berth task's run: the newest one placed on a node (a stopped
 * task's unplaceable replacement never counts), else the newest one.
 */
export function currentTask(service: SwarmService, tasks: readonly SwarmTask[]): SwarmTask | null {
  const newestFirst = [...tasks].sort((a, b) => (b.CreatedAt ?? '').localeCompare(a.CreatedAt ?? ''));
  const placed = newestFirst.find((t) => t.NodeID);
  if (placed || isStopped(service)) return placed ?? null;
  return newestFirst[0] ?? null;
}

interface Seen {
  readonly task: SwarmTask | null;
  readonly node: NodeState | null;
  readonly state: TaskState;
  readonly lost: string | null;
}

function see(service: SwarmService, tasks: readonly SwarmTask[], nodes: ReadonlyMap<string, NodeState>): Seen {
  const task = currentTask(service, tasks);
  const node = task?.NodeID ? (nodes.get(task.NodeID) ?? null) : null;
  if (!task) return { task, node, state: isStopped(service) ? 'exited' : 'created', lost: null };
  const state = task.Status?.State ?? 'new';
  if (WAITING.has(state)) {
    // A task placed on a node that went down before it ran is as lost as a running one.
    if (node && !node.up) return { task, node, state: 'exited', lost: `node ${node.name} is down` };
    return { task, node, state: isStopped(service) ? 'exited' : 'created', lost: null };
  }
  if (state === 'running') {
    if (node && !node.up) return { task, node, state: 'exited', lost: `node ${node.name} is down` };
    return { task, node, state: 'running', lost: null };
  }
  return { task, node, state: 'exited', lost: lostReason(task, node) };
}

/** Why a task ended, when its own exit does not say. */
function lostReason(task: SwarmTask, node: NodeState | null): string | null {
  const status = task.Status ?? {};
  switch (status.State) {
    case 'rejected':
      return `Swarm refused it: ${status.Err ?? status.Message ?? 'no reason given'}`;
    case 'orphaned':
      return `node ${node?.name ?? task.NodeID ?? 'unknown'} has been down too long`;
    case 'failed':
      // "task: non-zero exit (1)" is the exit code, which berth reports itself.
      return status.Err && !/non-zero exit/.test(status.Err) ? status.Err : null;
    default:
      return null;
  }
}

export function summaryOf(service: SwarmService, tasks: readonly SwarmTask[], nodes: ReadonlyMap<string, NodeState>): TaskSummary {
  const seen = see(service, tasks, nodes);
  const labels = { ...(service.Spec.Labels ?? {}) };
  const image = labels[IMAGE_LABEL] ?? service.Spec.TaskTemplate?.ContainerSpec?.Image ?? '';
  delete labels[IMAGE_LABEL];
  const running = seen.state === 'running';
  const ports: Record<number, number> = {};
  for (const p of seen.task?.Status?.PortStatus?.Ports ?? []) {
    if (p.PublishMode === 'host' && p.TargetPort && p.PublishedPort) ports[p.TargetPort] = p.PublishedPort;
  }
  const waiting = seen.state === 'created' ? waitingReason(seen.task) : null;
  return {
    id: service.ID,
    name: service.Spec.Name ?? service.ID,
    image,
    labels,
    state: seen.state,
    createdAt: new Date(service.CreatedAt ?? 0),
    address: running ? (seen.node?.address ?? null) : null,
    health: healthOf(service, seen),
    node: seen.task?.NodeID || null,
    ports,
    waiting,
    evicted: (running || seen.state === 'created') && (seen.node?.evicting ?? false),
  };
}

export function detailsOf(service: SwarmService, tasks: readonly SwarmTask[], nodes: ReadonlyMap<string, NodeState>): TaskDetails {
  const summary = summaryOf(service, tasks, nodes);
  const seen = see(service, tasks, nodes);
  const status = seen.task?.Status;
  const at = status?.Timestamp ? new Date(status.Timestamp) : null;
  const spec = service.Spec.TaskTemplate;
  const exited = seen.state === 'exited';
  return {
    ...summary,
    exitCode: exited && seen.lost === null && seen.task ? (status?.ContainerStatus?.ExitCode ?? null) : null,
    oomKilled: false,
    startedAt: seen.state === 'running' ? at : null,
    finishedAt: exited ? at : null,
    memoryLimitBytes: spec?.Resources?.Limits?.MemoryBytes ?? 0,
    memoryReservationBytes: spec?.Resources?.Reservations?.MemoryBytes ?? 0,
    env: spec?.ContainerSpec?.Env ?? [],
    privileged: false,
    securityOptions: [],
    mounts: (spec?.ContainerSpec?.Mounts ?? []).map((m) => m.Source ?? ''),
    lost: exited ? (seen.lost ?? (seen.task ? null : 'it never ran: berth stopped it before Swarm placed it')) : null,
  };
}

/** Swarm runs a task only once its health check passed; its task states say the rest. */
function healthOf(service: SwarmService, seen: Seen): TaskSummary['health'] {
  if (!service.Spec.TaskTemplate?.ContainerSpec?.HealthCheck) return null;
  if (seen.state === 'running') return 'healthy';
  if (seen.state === 'created') return 'starting';
  return /unhealthy/.test(seen.task?.Status?.Err ?? '') ? 'unhealthy' : null;
}

function waitingReason(task: SwarmTask | null): string | null {
  if (!task) return 'waiting for Swarm to make its task';
  const status = task.Status ?? {};
  if (status.Err) return status.Err;
  if (status.State === 'preparing') return 'its node is getting its image';
  return status.Message ?? status.State ?? null;
}
