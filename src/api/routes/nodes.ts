import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { NodesNeedSwarmError } from '../../domain/node-errors.js';
import type { NodeView } from '../../domain/nodes.js';
import { JoinCommandDoc, JoinCommandQuery, NodeDoc, NodeLabelsBody, NodeParams, NodeRemoveQuery, NodesDoc, type NodeDocT } from '../node-schemas.js';
import type { ApiDeps, NodesPort } from '../ports.js';
import { ErrorBody } from '../schemas.js';

const ERRORS = { 400: ErrorBody, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody, 503: ErrorBody };

/** The cluster's nodes: list, join, drain, activate, label, remove (admin token). */
export function nodeRoutes(deps: ApiDeps): FastifyPluginAsyncTypebox {
  const nodes = (): NodesPort => {
    if (!deps.nodes) throw new NodesNeedSwarmError('Managing nodes');
    return deps.nodes;
  };
  const audit = (request: FastifyRequest, action: string, node: NodeView, detail: string | null = null): void => {
    deps.audit.record({ actor: `admin from ${request.ip}`, action, target: `${node.name} (${node.id})`, detail });
  };
  return async (app) => {
    app.get('/nodes', { schema: { tags: ['nodes'], summary: 'The nodes tasks run on, with their memory and berth’s tasks (admin)', response: { 200: NodesDoc, ...ERRORS } } }, async (request) => {
      deps.auth.requireAdmin(request);
      const port = nodes();
      return { orchestrator: port.orchestrator, nodes: (await port.list()).map(nodeDoc) };
    });

    app.get(
      '/nodes/join-command',
      { schema: { tags: ['nodes'], summary: 'The command a new machine runs to join the Swarm (admin)', querystring: JoinCommandQuery, response: { 200: JoinCommandDoc, ...ERRORS } } },
      async (request) => {
        deps.auth.requireAdmin(request);
        const role = request.query.role ?? 'worker';
        return { role, command: await nodes().joinCommand(role) };
      },
    );

    app.get('/nodes/:name', { schema: { tags: ['nodes'], summary: 'One node (admin)', params: NodeParams, response: { 200: NodeDoc, ...ERRORS } } }, async (request) => {
      deps.auth.requireAdmin(request);
      return nodeDoc(await nodes().get(request.params.name));
    });

    app.post(
      '/nodes/:name/drain',
      { schema: { tags: ['nodes'], summary: 'Move every task off the node, start-first, then drain it (admin)', params: NodeParams, response: { 202: NodeDoc, ...ERRORS } } },
      async (request, reply) => {
        deps.auth.requireAdmin(request);
        const node = await nodes().drain(request.params.name);
        audit(request, 'node.drain', node);
        return reply.code(202).send(nodeDoc(node));
      },
    );

    app.post(
      '/nodes/:name/activate',
      { schema: { tags: ['nodes'], summary: 'Let the node take tasks again (admin)', params: NodeParams, response: { 200: NodeDoc, ...ERRORS } } },
      async (request) => {
        deps.auth.requireAdmin(request);
        const node = await nodes().activate(request.params.name);
        audit(request, 'node.activate', node);
        return nodeDoc(node);
      },
    );

    app.put(
      '/nodes/:name/labels',
      { schema: { tags: ['nodes'], summary: 'Set or remove node labels, which placement constraints match (admin)', params: NodeParams, body: NodeLabelsBody, response: { 200: NodeDoc, ...ERRORS } } },
      async (request) => {
        deps.auth.requireAdmin(request);
        const node = await nodes().label(request.params.name, request.body.labels);
        audit(request, 'node.label', node, Object.entries(request.body.labels).map(([k, v]) => (v === null ? `${k}-` : `${k}=${v}`)).join(' '));
        return nodeDoc(node);
      },
    );

    app.delete(
      '/nodes/:name',
      { schema: { tags: ['nodes'], summary: 'Remove a node from the Swarm; one still up needs ?force=true (admin)', params: NodeParams, querystring: NodeRemoveQuery, response: { 200: NodeDoc, ...ERRORS } } },
      async (request) => {
        deps.auth.requireAdmin(request);
        const node = await nodes().remove(request.params.name, request.query.force === 'true');
        audit(request, 'node.remove', node);
        return nodeDoc(node);
      },
    );
  };
}

function nodeDoc(n: NodeView): NodeDocT {
  return {
    id: n.id,
    name: n.name,
    address: n.address,
    role: n.role,
    leader: n.leader,
    status: n.status,
    availability: n.availability,
    memory_total: n.memoryMiB,
    memory_reserved: n.reservedMiB,
    tasks: n.tasks,
    cpus: n.cpus,
    labels: { ...n.labels },
    engine_version: n.engineVersion,
  };
}
