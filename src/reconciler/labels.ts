import { randomBytes } from 'node:crypto';
import type { TaskSummary } from '../runtime/task-runtime.js';

/** The labels that own berth's tasks (DESIGN.md "Labels"). */
export const LABEL = {
  managed: 'io.berth.managed',
  instance: 'io.berth.instance',
  project: 'io.berth.project',
  /** Which kind of workload the task belongs to; a task without one is a service's (berth before jobs). */
  kind: 'io.berth.kind',
  service: 'io.berth.service',
  serviceId: 'io.berth.service-id',
  revision: 'io.berth.revision',
  /** The colour of its service a task runs (ADR 011); absent on a service without colours. */
  colour: 'io.berth.colour',
  job: 'io.berth.job',
  stack: 'io.berth.stack',
  /** A project network's or volume's own name. */
  resource: 'io.berth.resource',
  attempt: 'io.berth.attempt',
  task: 'io.berth.task',
  reservation: 'io.berth.memory-reservation',
  database: 'io.berth.database',
  /** A database's task: `serve` (the one services reach) or `scratch` (a backup's check, a restore's source). */
  role: 'io.berth.role',
  /** What a scratch task is for: `backup:<id>` or `restore:<id>`. */
  purpose: 'io.berth.purpose',
} as const;

export type WorkloadKind = 'service' | 'job' | 'database';

interface Owner {
  readonly instance: string;
  readonly project: string;
  readonly task: string;
  readonly reservationMiB: number;
}

export interface ServiceTaskIdentity extends Owner {
  readonly service: string;
  readonly serviceId: number;
  readonly revision: number;
  readonly colour?: string | null;
}

export interface JobTaskIdentity extends Owner {
  readonly jobId: number;
  readonly attempt: number;
}

function ownerLabels(t: Owner, kind: WorkloadKind): Record<string, string> {
  return {
    [LABEL.managed]: 'true',
    [LABEL.instance]: t.instance,
    [LABEL.project]: t.project,
    [LABEL.kind]: kind,
    [LABEL.task]: t.task,
    [LABEL.reservation]: String(t.reservationMiB),
  };
}

export function taskLabels(t: ServiceTaskIdentity): Record<string, string> {
  return {
    ...ownerLabels(t, 'service'),
    [LABEL.service]: t.service,
    [LABEL.serviceId]: String(t.serviceId),
    [LABEL.revision]: String(t.revision),
    ...(t.colour ? { [LABEL.colour]: t.colour } : {}),
  };
}

export function jobTaskLabels(t: JobTaskIdentity): Record<string, string> {
  return { ...ownerLabels(t, 'job'), [LABEL.job]: String(t.jobId), [LABEL.attempt]: String(t.attempt) };
}

export interface DatabaseTaskIdentity extends Owner {
  readonly databaseId: number;
  readonly revision: number;
  readonly purpose: string | null;
}

export function databaseTaskLabels(t: DatabaseTaskIdentity): Record<string, string> {
  return {
    ...ownerLabels(t, 'database'),
    [LABEL.database]: String(t.databaseId),
    [LABEL.revision]: String(t.revision),
    [LABEL.role]: t.purpose === null ? 'serve' : 'scratch',
    ...(t.purpose === null ? {} : { [LABEL.purpose]: t.purpose }),
  };
}

export function newTaskName(service: string): string {
  return `${service}-${randomBytes(2).toString('hex')}`;
}

/** A job's attempt's task: `job-<id>-<attempt>`, so `docker ps` tells which run it is. */
export function jobTaskName(jobId: number, attempt: number): string {
  return `job-${jobId}-${attempt}`;
}

export function containerName(instance: string, project: string, task: string): string {
  return `berth-${instance}-${project}-${task}`;
}

/**
 * Each project's tasks share a bridge network of their own: they reach each other, the
 * gateway (on the host) reaches them, and no other project's task does.
 */
export function projectNetwork(instance: string, project: string): { name: string; labels: Record<string, string> } {
  return {
    name: `berth-${instance}-${project}`,
    labels: { [LABEL.managed]: 'true', [LABEL.instance]: instance, [LABEL.project]: project },
  };
}

/**
 * The runtime's names for what stacks and projects hold; the parts after the project are
 * marked (`.stack.`, `.network.`, `.volume.`) so that no stack's names meet a project's.
 */
export const resourceNames = {
  stackNetwork: (instance: string, project: string, stack: string, key: string) => `berth-${instance}-${project}.stack.${stack}.${key}`,
  projectNetwork: (instance: string, project: string, name: string) => `berth-${instance}-${project}.network.${name}`,
  stackVolume: (instance: string, project: string, stack: string, key: string) => `berth-${instance}-${project}.stack.${stack}.${key}`,
  projectVolume: (instance: string, project: string, name: string) => `berth-${instance}-${project}.volume.${name}`,
  databaseVolume: (instance: string, project: string, name: string) => `berth-${instance}-${project}.database.${name}`,
};

/** The labels of a network or volume: whose it is, so that teardown and tests find it. */
export function resourceLabels(instance: string, project: string, owner: { stack: string } | { resource: string }): Record<string, string> {
  return {
    [LABEL.managed]: 'true',
    [LABEL.instance]: instance,
    [LABEL.project]: project,
    ...('stack' in owner ? { [LABEL.stack]: owner.stack } : { [LABEL.resource]: owner.resource }),
  };
}

/** A service's task as berth labelled it. */
export interface LabelledContainer {
  readonly kind: 'service';
  readonly container: TaskSummary;
  readonly serviceId: number;
  readonly revision: number;
  readonly task: string;
}

/** A job's attempt's task as berth labelled it. */
export interface JobContainer {
  readonly kind: 'job';
  readonly container: TaskSummary;
  readonly jobId: number;
  readonly attempt: number;
  readonly task: string;
}

/** A database's task as berth labelled it: the one that serves, or a scratch one for a backup or a restore. */
export interface DatabaseTask {
  readonly kind: 'database';
  readonly container: TaskSummary;
  readonly databaseId: number;
  readonly revision: number;
  /** null for the serving task. */
  readonly purpose: string | null;
  readonly task: string;
}

export type OwnedTask = LabelledContainer | JobContainer | DatabaseTask;

/** The workload a task belongs to; null for one missing berth's labels. */
export function readLabels(container: TaskSummary): OwnedTask | null {
  const task = container.labels[LABEL.task];
  if (!task) return null;
  const kind = container.labels[LABEL.kind] ?? 'service';
  if (kind === 'job') {
    const jobId = Number(container.labels[LABEL.job]);
    const attempt = Number(container.labels[LABEL.attempt]);
    if (!Number.isInteger(jobId) || !Number.isInteger(attempt)) return null;
    return { kind, container, jobId, attempt, task };
  }
  if (kind === 'database') {
    const databaseId = Number(container.labels[LABEL.database]);
    const revision = Number(container.labels[LABEL.revision]);
    if (!Number.isInteger(databaseId) || !Number.isInteger(revision)) return null;
    return { kind, container, databaseId, revision, purpose: container.labels[LABEL.purpose] ?? null, task };
  }
  if (kind !== 'service') return null;
  const serviceId = Number(container.labels[LABEL.serviceId]);
  const revision = Number(container.labels[LABEL.revision]);
  if (!Number.isInteger(serviceId) || !Number.isInteger(revision)) return null;
  return { kind, container, serviceId, revision, task };
}
