import type { ServiceDefinition } from '../domain/definition.js';
import type { Service } from '../domain/model.js';
import type { LabelledContainer } from './labels.js';

/**
 * `--colour-spread` (NMPI runs each colour of a service on a node of its own): a colour's new
 * tasks keep off the nodes its service's other colours' tasks run or wait on, as placement
 * constraints, which berth's admission check and Swarm both read. Tasks on one engine have no
 * node: there it changes nothing.
 */
export function spreadColours(
  service: Service,
  definition: ServiceDefinition,
  services: readonly Service[],
  tasksOf: (serviceId: number) => readonly LabelledContainer[],
): ServiceDefinition {
  if (!definition.colourSpread || service.colourOf === null) return definition;
  const nodes = new Set<string>();
  for (const other of services) {
    if (other.id === service.id || other.colourOf !== service.colourOf) continue;
    for (const task of tasksOf(other.id)) if (task.container.node && task.container.state !== 'exited') nodes.add(task.container.node);
  }
  if (nodes.size === 0) return definition;
  const placement = definition.placement ?? { node: null, constraints: [] };
  const avoid = [...nodes].sort().map((id) => `node.id!=${id}`);
  return { ...definition, placement: { ...placement, constraints: [...placement.constraints, ...avoid] } };
}
