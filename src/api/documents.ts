import { isCrashLooping } from '../domain/backoff.js';
import { describeStep, isTerminal } from '../domain/deployment.js';
import { formatStatusCodes } from '../domain/health-check.js';
import type { Deployment, Revision, Service, ServiceEvent } from '../domain/model.js';
import { contextRoot } from '../domain/names.js';
import type { ObservedTask, TaskLogStream } from '../domain/observed.js';
import type { DeploymentDocT, LogsDocT, ServiceSummaryT, StatusDocT } from './schemas.js';

/** Renders stored and observed state as the servicectl documents. Pure. */
export function serviceSummary(service: Pick<Service, 'project' | 'name'>, publicUrl: string): ServiceSummaryT {
  return {
    name: service.name,
    links: [
      { href: `/services/${service.name}`, rel: 'self' },
      { href: `${publicUrl}${contextRoot(service.project, service.name)}`, rel: 'deployment' },
    ],
  };
}

/** `colour`: the colour the deployment is of, in a service with colours. */
export function deploymentDoc(d: Deployment, colour: string | null = null): DeploymentDocT {
  return {
    ...(colour === null ? {} : { colour }),
    id: d.id,
    revision: d.revision,
    previous_revision: d.previousRevision,
    step: d.step,
    step_description: describeStep(d.step),
    finished: isTerminal(d.step),
    reason: d.reason,
    created_at: iso(d.createdAt),
    step_started_at: iso(d.stepStartedAt),
    finished_at: d.finishedAt === null ? null : iso(d.finishedAt),
  };
}

export interface StatusInput {
  readonly service: Service;
  readonly revisions: ReadonlyMap<number, Revision>;
  readonly tasks: readonly ObservedTask[];
  readonly events: readonly ServiceEvent[];
  readonly deployment: Deployment | null;
  /** The last log lines of the newest stopped task. */
  readonly lastExitLogs: readonly string[];
}

export function statusDoc({ service, revisions, tasks, events, deployment, lastExitLogs }: StatusInput): StatusDocT {
  const root = contextRoot(service.project, service.name);
  const desiredRevision = service.currentRevision ?? (deployment && !isTerminal(deployment.step) ? deployment.revision : null);
  const desired = desiredRevision === null ? 0 : (revisions.get(desiredRevision)?.definition.replicas ?? 0);
  return {
    service_status: service.status,
    count_desired: service.status === 'DRAINING' ? 0 : desired,
    count_running: tasks.filter((t) => t.lastStatus === 'RUNNING').length,
    count_pending: tasks.filter((t) => t.lastStatus === 'PENDING' || t.lastStatus === 'PROVISIONING').length,
    current_revision: service.currentRevision,
    crash_looping: isCrashLooping(service),
    last_exit: service.lastExit,
    last_exit_logs: isCrashLooping(service) ? [...lastExitLogs] : [],
    tasks: tasks.map((t) => {
      const definition = revisions.get(t.revision)?.definition;
      return {
        task_name: t.taskName,
        created_at: t.createdAt.toISOString(),
        desired_status: t.desiredStatus,
        last_status: t.lastStatus,
        task_definition: {
          name: `${service.project}-${service.name}`,
          revision: t.revision,
          status: revisions.get(t.revision)?.status ?? 'INACTIVE',
          container_image: t.image,
          container_memory_reservation: definition?.memoryReservationMiB ?? 0,
          container_memory_limit: definition?.memoryLimitMiB ?? 0,
          container_port: definition?.containerPort ?? 0,
        },
        ...(t.node ? { node: t.node } : {}),
        ...(t.waiting ? { waiting: t.waiting } : {}),
      };
    }),
    events: events.map((e) => ({ created_at: iso(e.createdAt), message: e.message })),
    deployment: deployment ? deploymentDoc(deployment) : null,
    target_health: {
      health_check_path: service.healthCheck.relPath === '/' ? `${root}/` : `${root}${service.healthCheck.relPath}`,
      interval: service.healthCheck.intervalSeconds,
      status_codes: formatStatusCodes(service.healthCheck.statusCodes),
      targets: tasks
        .filter((t) => t.lastStatus === 'RUNNING' || t.health === 'draining')
        .map((t) => ({
          target: t.ip ?? t.taskName,
          port: t.port ?? revisions.get(t.revision)?.definition.containerPort ?? 0,
          health: t.health,
          ...(t.healthDescription ? { description: t.healthDescription } : {}),
          task_name: t.taskName,
        })),
    },
  };
}

export function logsDoc(streams: readonly TaskLogStream[]): LogsDocT {
  return {
    logs: streams.map((s) => ({
      stream_name: s.taskName,
      log_events: s.lines.map((l) => ({ time: l.time.toISOString(), message: l.message })),
    })),
  };
}

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}
