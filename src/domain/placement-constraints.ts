import { InvalidPlacementError } from './node-errors.js';
import { printable } from './names.js';

/**
 * Where a service's tasks may run: Swarm's placement constraints (`node.labels.gpu==yes`,
 * `node.hostname!=worker-2`), and `node` as a shorthand for one node. berth checks them
 * against the nodes before a deployment starts, so one that matches no node fails with the
 * nodes' names; Swarm enforces them when it places each task.
 */
export interface Placement {
  /** The node every task runs on: its host name or its id. */
  readonly node: string | null;
  readonly constraints: readonly string[];
}

export interface Constraint {
  readonly key: string;
  readonly equals: boolean;
  readonly value: string;
}

export const MAX_CONSTRAINTS = 16;
const KEY = /^(node\.id|node\.hostname|node\.role|node\.platform\.os|node\.platform\.arch|(?:node|engine)\.labels\.[A-Za-z0-9][A-Za-z0-9._-]{0,127})$/;
const VALUE = /^[A-Za-z0-9][A-Za-z0-9._:\-/]{0,127}$/;
/** Swarm's node ids: 25 lowercase letters and digits. */
const NODE_ID = /^[a-z0-9]{25}$/;

export function parseConstraint(text: string): Constraint {
  const match = /^\s*([^=!\s]+)\s*(==|!=)\s*(\S+)\s*$/.exec(text);
  if (!match) {
    throw new InvalidPlacementError(`constraint '${printable(text.slice(0, 80))}' must read KEY==VALUE or KEY!=VALUE, such as node.labels.gpu==yes`);
  }
  const [, key, op, value] = match as unknown as [string, string, string, string];
  if (!KEY.test(key)) {
    throw new InvalidPlacementError(
      `constraint key '${printable(key.slice(0, 80))}' is not one of node.id, node.hostname, node.role, node.platform.os, node.platform.arch, node.labels.NAME, engine.labels.NAME`,
    );
  }
  if (!VALUE.test(value)) throw new InvalidPlacementError(`constraint value '${printable(value.slice(0, 80))}' must be letters, digits, '.', '_', ':', '/', '-'`);
  if (key === 'node.role' && !['manager', 'worker'].includes(value.toLowerCase())) {
    throw new InvalidPlacementError(`node.role is manager or worker, not '${printable(value)}'`);
  }
  return { key, equals: op === '==', value };
}

/** A placement from a definition's `node` and `constraints`, each checked; normalised to `KEY==VALUE`. */
export function parsePlacement(node: string | undefined, constraints: readonly string[] | undefined): Placement | null {
  if (node === undefined && (constraints === undefined || constraints.length === 0)) return null;
  if ((constraints?.length ?? 0) > MAX_CONSTRAINTS) throw new InvalidPlacementError(`at most ${MAX_CONSTRAINTS} constraints`);
  if (node !== undefined && !VALUE.test(node)) throw new InvalidPlacementError(`'node' must be a node's name or id, not '${printable(node.slice(0, 80))}'`);
  const parsed = (constraints ?? []).map(parseConstraint);
  return { node: node ?? null, constraints: parsed.map(formatConstraint) };
}

export function formatConstraint(c: Constraint): string {
  return `${c.key}${c.equals ? '==' : '!='}${c.value}`;
}

/** Every constraint of a placement, `node` included, as Swarm reads them. */
export function placementConstraints(placement: Placement | null | undefined): string[] {
  if (!placement) return [];
  const node = placement.node === null ? [] : [NODE_ID.test(placement.node) ? `node.id==${placement.node}` : `node.hostname==${placement.node}`];
  return [...node, ...placement.constraints];
}

/** Whether a node with these attributes (domain names as Swarm's: node.id, node.labels.x…) satisfies every constraint. */
export function satisfies(constraints: readonly string[], attributes: Readonly<Record<string, string>>): boolean {
  return constraints.every((text) => {
    const c = parseConstraint(text);
    const actual = attributes[c.key];
    // A label the node lacks equals nothing and differs from everything, as in Swarm.
    const equal = actual !== undefined && actual.toLowerCase() === c.value.toLowerCase();
    return c.equals ? equal : !equal;
  });
}
