import { InvalidNodeRequestError, NodeNameAmbiguousError, NodeNotFoundError } from './node-errors.js';
import { printable } from './names.js';

/** A node as `berth node ls` and `GET /nodes` show it. */
export interface NodeView {
  readonly id: string;
  readonly name: string;
  readonly address: string;
  readonly role: 'manager' | 'worker';
  readonly leader: boolean;
  /** ready, down, unknown, disconnected: whether the node answers. */
  readonly status: string;
  /** active, pause, drain, or draining while berth moves its tasks away. */
  readonly availability: 'active' | 'pause' | 'drain' | 'draining';
  readonly memoryMiB: number;
  /** What berth's live tasks (of every server on this cluster) reserve on it. */
  readonly reservedMiB: number;
  /** berth's live tasks on it. */
  readonly tasks: number;
  readonly cpus: number;
  readonly labels: Readonly<Record<string, string>>;
  readonly engineVersion: string;
}

/** The node a name designates: its id, its unique name, or a unique prefix of its id. */
export function resolveNode<T extends { readonly id: string; readonly name: string }>(nodes: readonly T[], name: string): T {
  const byId = nodes.find((n) => n.id === name);
  if (byId) return byId;
  const named = nodes.filter((n) => n.name === name);
  if (named.length === 1) return named[0] as T;
  if (named.length > 1) throw new NodeNameAmbiguousError(name, named.map((n) => n.id));
  const prefixed = name.length >= 4 ? nodes.filter((n) => n.id.startsWith(name)) : [];
  if (prefixed.length === 1) return prefixed[0] as T;
  throw new NodeNotFoundError(printable(name.slice(0, 80)));
}

const LABEL_KEY = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const LABEL_VALUE = /^[\x21-\x7e]{0,256}$/;
/** berth's own node labels (the drain mark): set by berth alone. */
const RESERVED_PREFIX = 'io.berth.';

/** Label changes from `KEY=VALUE` (set) and `KEY-` (remove), each checked. */
export function parseLabelChanges(changes: Readonly<Record<string, string | null>>): Record<string, string | null> {
  const entries = Object.entries(changes);
  if (entries.length === 0) throw new InvalidNodeRequestError('give at least one label to set (KEY=VALUE) or remove (KEY-)');
  if (entries.length > 64) throw new InvalidNodeRequestError('at most 64 labels at once');
  for (const [key, value] of entries) {
    if (!LABEL_KEY.test(key)) throw new InvalidNodeRequestError(`label key '${printable(key.slice(0, 80))}' must be letters, digits, '.', '_' or '-', at most 128`);
    if (key.startsWith(RESERVED_PREFIX)) throw new InvalidNodeRequestError(`labels under ${RESERVED_PREFIX} are berth's own`);
    if (value !== null && !LABEL_VALUE.test(value)) throw new InvalidNodeRequestError(`the value of label '${key}' must be printable, without spaces, at most 256 characters`);
  }
  return { ...changes };
}
