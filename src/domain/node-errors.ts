import { BerthError } from './errors.js';

/** No node of the cluster has that name or id. */
export class NodeNotFoundError extends BerthError {
  readonly code = 'BERTH_NODE_NOT_FOUND';
  readonly status = 404;
  constructor(name: string) {
    super(`No node is named '${name}'`);
  }
}

/** Several nodes answer to the name given (Swarm nodes may share a host name): name one by its id. */
export class NodeNameAmbiguousError extends BerthError {
  readonly code = 'BERTH_NODE_NAME_AMBIGUOUS';
  readonly status = 409;
  constructor(name: string, ids: readonly string[]) {
    super(`Several nodes are named '${name}' (${ids.join(', ')}); name one by its id`);
  }
}

/** What was asked changes a cluster's nodes, and berth runs on one Docker engine. */
export class NodesNeedSwarmError extends BerthError {
  readonly code = 'BERTH_NODES_NEED_SWARM';
  readonly status = 409;
  constructor(what: string) {
    super(`${what} needs a Docker Swarm; berth runs on one Docker engine (see docs/server.md, "Nodes")`);
  }
}

/** A node request that makes no sense: a bad label, removing a node that is up without force, the last manager. */
export class InvalidNodeRequestError extends BerthError {
  readonly code = 'BERTH_INVALID_NODE_REQUEST';
  readonly status = 400;
}

/** A placement (`--node`, `--constraint`) that is not well formed. */
export class InvalidPlacementError extends BerthError {
  readonly code = 'BERTH_INVALID_PLACEMENT';
  readonly status = 400;
}

/** The orchestrator cannot do this to a task (Swarm delivers no signal but a stop). */
export class TaskSignalUnsupportedError extends BerthError {
  readonly code = 'BERTH_SIGNAL_UNSUPPORTED';
  readonly status = 409;
  constructor(signal: string) {
    super(`Docker Swarm cannot send ${signal} to a task; it can only stop it (SIGTERM, then SIGKILL after the grace period)`);
  }
}

/** A command for a task that runs on a node whose engine berth does not reach. */
export class TaskOnOtherNodeError extends BerthError {
  readonly code = 'BERTH_TASK_ON_OTHER_NODE';
  readonly status = 409;
  constructor(node: string) {
    super(`The task runs on node ${node}; berth reaches only its own node's tasks (those with a volume or a host path)`);
  }
}
