import { describe, expect, it } from 'vitest';
import type { ServiceDefinition } from '../../src/domain/definition.js';
import type { Service } from '../../src/domain/model.js';
import { spreadColours } from '../../src/reconciler/colour-spread.js';
import type { LabelledContainer } from '../../src/reconciler/labels.js';
import type { TaskSummary } from '../../src/runtime/task-runtime.js';

const row = (id: number, colour: string | null, colourOf: number | null): Service => ({ id, colour, colourOf }) as Service;
const task = (serviceId: number, node: string | null, state: TaskSummary['state'] = 'running'): LabelledContainer =>
  ({ kind: 'service', serviceId, revision: 1, task: `t${serviceId}`, container: { node, state } as TaskSummary }) as LabelledContainer;
const definition = { replicas: 1, placement: { node: null, constraints: ['node.role==worker'] } } as unknown as ServiceDefinition;
const spread = { ...definition, colourSpread: true };

describe('colours spread over nodes', () => {
  const services = [row(1, null, null), row(2, 'blue', 1), row(3, 'green', 1), row(4, 'blue', 9)];
  const tasks = new Map([
    [2, [task(2, 'node-a'), task(2, 'node-b', 'exited')]],
    [4, [task(4, 'node-c')]],
  ]);
  const tasksOf = (id: number) => tasks.get(id) ?? [];

  it('keeps a colour off the nodes its service’s other colours run on, and only theirs', () => {
    expect(spreadColours(row(3, 'green', 1), spread, services, tasksOf).placement).toEqual({ node: null, constraints: ['node.role==worker', 'node.id!=node-a'] });
  });

  it('changes nothing unless asked, for a service without colours, or for tasks without a node (one engine)', () => {
    expect(spreadColours(row(3, 'green', 1), definition, services, tasksOf)).toBe(definition);
    expect(spreadColours(row(1, null, null), spread, services, tasksOf)).toBe(spread);
    expect(spreadColours(row(3, 'green', 1), spread, services, (id) => (id === 2 ? [task(2, null)] : []))).toBe(spread);
  });
});
