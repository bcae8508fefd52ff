import { randomBytes } from 'node:crypto';
import type { ContainerSummary } from '../runtime/container-runtime.js';

/** The labels that own berth's containers (DESIGN.md "Labels"). */
export const LABEL = {
  managed: 'io.berth.managed',
  instance: 'io.berth.instance',
  project: 'io.berth.project',
  service: 'io.berth.service',
  serviceId: 'io.berth.service-id',
  revision: 'io.berth.revision',
  task: 'io.berth.task',
  reservation: 'io.berth.memory-reservation',
} as const;

export interface TaskIdentity {
  readonly instance: string;
  readonly project: string;
  readonly service: string;
  readonly serviceId: number;
  readonly revision: number;
  readonly task: string;
  readonly reservationMiB: number;
}

export function taskLabels(t: TaskIdentity): Record<string, string> {
  return {
    [LABEL.managed]: 'true',
    [LABEL.instance]: t.instance,
    [LABEL.project]: t.project,
    [LABEL.service]: t.service,
    [LABEL.serviceId]: String(t.serviceId),
    [LABEL.revision]: String(t.revision),
    [LABEL.task]: t.task,
    [LABEL.reservation]: String(t.reservationMiB),
  };
}

export function newTaskName(service: string): string {
  return `${service}-${randomBytes(2).toString('hex')}`;
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

/** A container's task as berth labelled it; null for a container missing berth's labels. */
export interface LabelledContainer {
  readonly container: ContainerSummary;
  readonly serviceId: number;
  readonly revision: number;
  readonly task: string;
}

export function readLabels(container: ContainerSummary): LabelledContainer | null {
  const serviceId = Number(container.labels[LABEL.serviceId]);
  const revision = Number(container.labels[LABEL.revision]);
  const task = container.labels[LABEL.task];
  if (!Number.isInteger(serviceId) || !Number.isInteger(revision) || !task) return null;
  return { container, serviceId, revision, task };
}

export function isAlive(container: ContainerSummary): boolean {
  return container.state === 'running' || container.state === 'created' || container.state === 'restarting' || container.state === 'paused';
}
