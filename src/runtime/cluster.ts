/**
 * The Cluster port: the machines an orchestrator runs tasks on, and what an operator does to
 * them (drain, activate, label, remove, let a new one join). The Swarm adapter implements it
 * for a Swarm's nodes; on one Docker engine there is one node and nothing to change.
 */

export type NodeStatus = 'ready' | 'down' | 'unknown' | 'disconnected';
/** active: takes new tasks; pause: keeps its tasks, takes no new ones; drain: runs none. */
export type NodeAvailability = 'active' | 'pause' | 'drain';

export interface ClusterNode {
  readonly id: string;
  /** Its host name, or the name given to it in the orchestrator. */
  readonly name: string;
  /** The address other machines (and the gateway) reach it at. */
  readonly address: string;
  readonly role: 'manager' | 'worker';
  readonly leader: boolean;
  readonly status: NodeStatus;
  readonly availability: NodeAvailability;
  /** berth was asked to drain it: its tasks are being moved, then it becomes `drain`. */
  readonly draining: boolean;
  readonly memoryBytes: number;
  readonly cpus: number;
  readonly labels: Readonly<Record<string, string>>;
  readonly engineVersion: string;
}

export interface Cluster {
  readonly orchestrator: 'swarm' | 'engine';
  listNodes(): Promise<ClusterNode[]>;
  /** The command a new machine runs to join as a worker or a manager. */
  joinCommand(role: 'worker' | 'manager'): Promise<string>;
  /**
   * `draining`: the node takes no new tasks and is marked for berth to move its tasks away
   * before it becomes `drain` (setAvailability(id, 'drain') then finishes it).
   */
  setAvailability(id: string, availability: NodeAvailability | 'draining'): Promise<void>;
  /** Sets the labels given; a null value removes that label. */
  setLabels(id: string, changes: Readonly<Record<string, string | null>>): Promise<void>;
  /** Removes a node from the cluster; one still up needs `force`. */
  removeNode(id: string, force: boolean): Promise<void>;
}
