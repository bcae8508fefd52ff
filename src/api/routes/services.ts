import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { parseDefinition } from '../../domain/definition.js';
import { canRollBack, strategyNamed } from '../../domain/deployment.js';
import {
  BadRequestError,
  ConflictError,
  DeploymentNotFoundError,
  FeatureUnavailableError,
  InvalidDefinitionError,
  InvalidServiceNameError,
  ServiceDeletingError,
  ServiceInStackError,
  ServiceNotFoundError,
} from '../../domain/errors.js';
import { ENGINES } from '../../domain/database-engines.js';
import { parseHealthCheck } from '../../domain/health-check.js';
import { secretOwner } from '../../secrets/secret-store.js';
import { ownedRepository, parseImageReference } from '../../domain/image-reference.js';
import { ColourLiveError } from '../../domain/colours.js';
import type { Deployment, Service } from '../../domain/model.js';
import { assertServiceName } from '../../domain/names.js';
import { eventDoc } from '../colour-documents.js';
import { colourRow, deploymentTarget, requestedColour, rowFor, rowsFor } from '../colour-scope.js';
import { deploymentDoc, logsDoc, serviceSummary, iso } from '../documents.js';
import { serviceStatusDoc } from '../service-status.js';
import { sendLogStream } from '../log-stream.js';
import type { Store } from '../../store/store.js';
import type { ApiDeps } from '../ports.js';
import {
  ColourQuery,
  CreateServiceBody,
  DeleteServiceResponse,
  DeploymentDoc,
  DeploymentParams,
  DockerCredentialsDoc,
  ErrorBody,
  EventsDoc,
  EventsQuery,
  LogsDoc,
  LogStreamQuery,
  ServiceDefinitionBody,
  ServiceDoc,
  ServiceParams,
  ServiceQuery,
  RevisionDoc,
  ServiceSummary,
  UpdateServiceResponse,
} from '../schemas.js';

const DEFAULT_TAIL = 100;
const MAX_TAIL = 5000;
const DEFAULT_STREAMS = 5;
const MAX_STREAMS = 50;

const errors = { 400: ErrorBody, 403: ErrorBody, 404: ErrorBody, 405: ErrorBody, 409: ErrorBody, 413: ErrorBody, 415: ErrorBody, 501: ErrorBody };

/** The servicectl Services API, plus berth's deployment and event endpoints. */
export function serviceRoutes(deps: ApiDeps): FastifyPluginAsyncTypebox {
  const { store, auth, publicUrl } = deps;

  function serviceOf(project: string, name: string): Service {
    const service = store.services.find(project, name);
    if (!service) throw new ServiceNotFoundError(name.slice(0, 64));
    return service;
  }

  /** A deployment of the service or of one of its colours, with the colour it is of. */
  function deploymentOf(service: Service, id: number): { deployment: Deployment; colour: string | null } {
    const rows = rowsFor(store, service, undefined);
    const deployment = store.deployments.get(id);
    if (!deployment || !rows.has(deployment.serviceId)) throw new DeploymentNotFoundError(id);
    return { deployment, colour: rows.get(deployment.serviceId) ?? null };
  }

  return async (app) => {
    app.get(
      '/services',
      { schema: { tags: ['services'], summary: 'List the project’s services', response: { 200: Type.Array(ServiceSummary), ...errors } } },
      async (request) => {
        const project = auth.requireProject(request);
        return store.services.namesByProject(project).map((name) => serviceSummary({ project, name }, publicUrl));
      },
    );

    app.post(
      '/services',
      {
        schema: { tags: ['services'], summary: 'Create an empty service', body: CreateServiceBody, response: { 201: ServiceSummary, ...errors } },
        attachValidation: true,
      },
      async (request, reply) => {
        const project = auth.requireProject(request);
        if (request.validationError) {
          const onName = (request.validationError.validation ?? []).some((v: { instancePath: string }) => v.instancePath === '/name');
          if (onName) throw new InvalidServiceNameError('Service name must be a string of at most 32 characters');
          throw request.validationError;
        }
        const { name, health_check } = request.body;
        assertServiceName(project, name);
        if (store.databases.find(project, name)) throw new InvalidServiceNameError(`'${name}' is a database of this project; a service's name is its host name on the project's network`);
        const service = store.transaction(() => {
          deps.audit.record({ actor: actor(project, request.ip), action: 'service.create', target: `${project}/${name}`, detail: null });
          const created = store.services.create(project, name, parseHealthCheck(health_check));
          store.events.add(created.id, 'service created');
          return created;
        });
        // The gateway learns the new path (answering 503 until a revision is healthy).
        deps.desiredStateChanged();
        return reply.status(201).send(serviceSummary(service, publicUrl));
      },
    );

    app.get(
      '/services/:name',
      {
        schema: {
          tags: ['services'],
          summary: 'Status (default), logs (view=logs) or registry credentials (view=docker)',
          params: ServiceParams,
          querystring: ServiceQuery,
          response: { 200: Type.Union([ServiceDoc, LogsDoc, DockerCredentialsDoc]), ...errors },
        },
      },
      async (request) => {
        const project = auth.requireProject(request);
        const service = serviceOf(project, request.params.name);
        const { view, tail, streams } = request.query;
        const colour = requestedColour(request.query.colour);
        if (view === 'logs') {
          const tailN = boundedInt(tail, DEFAULT_TAIL, MAX_TAIL, 'tail');
          const streamsN = boundedInt(streams, DEFAULT_STREAMS, MAX_STREAMS, 'streams');
          return logsDoc(await deps.observer.logs(rowFor(store, service, colour).id, tailN, streamsN));
        }
        if (view === 'docker') {
          if (!deps.dockerCredentials) throw new FeatureUnavailableError('This server runs without a registry');
          const credentials = await deps.dockerCredentials.credentialsFor(service);
          deps.audit.record({
            actor: actor(project, request.ip),
            action: 'registry.credentials',
            target: `${project}/${service.name}`,
            detail: `user ${credentials.user}`,
          });
          return credentials;
        }
        return serviceStatusDoc(deps, service, colour);
      },
    );

    app.put(
      '/services/:name',
      {
        schema: {
          tags: ['services'],
          summary: 'Store a new revision and start its deployment (into a colour with ?colour=NAME)',
          params: ServiceParams,
          querystring: ColourQuery,
          body: ServiceDefinitionBody,
          response: { 200: UpdateServiceResponse, ...errors },
        },
      },
      async (request) => {
        const project = auth.requireProject(request);
        const service = serviceOf(project, request.params.name);
        refuseStackMember(store, service);
        if (service.status === 'DRAINING') throw new ServiceDeletingError(service.name);
        const colour = requestedColour(request.query.colour);
        const definition = parseDefinition(request.body);
        if (definition.image !== null) ownedRepository(project, parseImageReference(definition.image), deps.ownRegistry);
        checkDatabases(store, project, definition.databases ?? [], definition.environment.map((e) => e.name));
        const { revision, deployment } = store.transaction(() => {
          const target = deploymentTarget(store, service, colour);
          const stored = store.revisions.add(target.id, definition);
          for (const secret of request.body.secrets ?? []) deps.secrets.put(secretOwner.revision(target.id, stored.number), secret.name, secret.value);
          const started = store.deployments.create(target.id, stored.number, target.currentRevision);
          const image = definition.image ?? `tag ${definition.containerTag}`;
          store.events.add(target.id, `revision ${stored.number} created (${image}, ${definition.replicas} × ${definition.memoryLimitMiB} MiB)`, started.id);
          deps.audit.record({
            actor: actor(project, request.ip),
            action: 'service.deploy',
            target: `${project}/${service.name}`,
            // Variable names only: values may be secrets.
            detail: `${colour === undefined ? '' : `colour ${colour}, `}revision ${stored.number}: ${image}, ${definition.replicas} replica(s), ${definition.memoryReservationMiB}/${definition.memoryLimitMiB} MiB, port ${definition.containerPort}, env [${definition.environment.map((e) => e.name).join(', ')}]${definition.secretNames ? `, secrets [${definition.secretNames.join(', ')}]` : ''}${definition.databases ? `, databases [${definition.databases.join(', ')}]` : ''}`,
          });
          return { revision: stored, deployment: started };
        });
        deps.desiredStateChanged();
        return { name: service.name, revision: revision.number, deployment: deployment.id, ...(colour === undefined ? {} : { colour }) };
      },
    );

    app.delete(
      '/services/:name',
      {
        schema: {
          tags: ['services'],
          summary: 'Stop and remove the service, or with ?colour=NAME one colour that is not live',
          params: ServiceParams,
          querystring: ColourQuery,
          response: { 200: DeleteServiceResponse, ...errors },
        },
      },
      async (request) => {
        const project = auth.requireProject(request);
        const service = serviceOf(project, request.params.name);
        const colour = requestedColour(request.query.colour);
        if (colour !== undefined) {
          const row = colourRow(store, service, colour);
          if (service.liveColour === colour && service.status !== 'DRAINING') throw new ColourLiveError(service.name, colour);
          if (row.status !== 'DRAINING') {
            store.transaction(() => {
              store.services.setStatus(row.id, 'DRAINING');
              store.events.add(service.id, `colour ${colour} terminated: its tasks stop, its revisions and logs go`);
              deps.audit.record({ actor: actor(project, request.ip), action: 'service.terminate', target: `${project}/${service.name}`, detail: `colour ${colour}` });
            });
            deps.desiredStateChanged();
          }
          return { name: service.name, status: 'DRAINING', colour };
        }
        refuseStackMember(store, service);
        if (service.status !== 'DRAINING') {
          store.transaction(() => {
            for (const row of store.services.coloursOf(service.id)) store.services.setStatus(row.id, 'DRAINING');
            store.services.setStatus(service.id, 'DRAINING');
            store.events.add(service.id, 'service deletion requested');
            deps.audit.record({ actor: actor(project, request.ip), action: 'service.delete', target: `${project}/${service.name}`, detail: null });
          });
          deps.desiredStateChanged();
        }
        return { name: service.name, status: 'DRAINING' };
      },
    );

    app.get(
      '/services/:name/events',
      {
        schema: { tags: ['services'], summary: 'Events after an id, oldest first (for following)', params: ServiceParams, querystring: EventsQuery, response: { 200: EventsDoc, ...errors } },
      },
      async (request) => {
        const project = auth.requireProject(request);
        const service = serviceOf(project, request.params.name);
        const after = request.query.after === undefined ? 0 : Number(request.query.after);
        const limit = boundedInt(request.query.limit, 200, 1000, 'limit');
        // A service's own events, and with colours every colour's (or only the one asked for), merged.
        const rows = rowsFor(store, service, requestedColour(request.query.colour));
        const ids = [...rows.keys()];
        const events = after === 0 ? store.events.listOfMany(ids, limit).reverse() : store.events.sinceOfMany(ids, after, limit);
        return { events: events.map((e) => ({ id: e.id, ...eventDoc(e, rows), deployment_id: e.deploymentId })) };
      },
    );

    app.get(
      '/services/:name/logs/stream',
      {
        schema: {
          tags: ['services'],
          summary: 'Follow the logs of every task as NDJSON lines {stream_name, time, message}, until the client disconnects',
          params: ServiceParams,
          querystring: LogStreamQuery,
          produces: ['application/x-ndjson'],
          response: { 200: Type.Unknown({ description: 'NDJSON lines, sent as they are written' }), ...errors },
        },
      },
      async (request, reply) => {
        const project = auth.requireProject(request);
        const service = serviceOf(project, request.params.name);
        const tail = request.query.tail === undefined ? 20 : boundedInt(request.query.tail, 20, MAX_TAIL, 'tail');
        const row = rowFor(store, service, requestedColour(request.query.colour));
        return sendLogStream(request, reply, (follow) => deps.observer.followLogs(row.id, { tail, ...follow }), 'logs');
      },
    );

    app.get(
      '/services/:name/deployments',
      {
        schema: { tags: ['deployments'], summary: 'Deployments, newest first (every colour’s, or one with ?colour=NAME)', params: ServiceParams, querystring: ColourQuery, response: { 200: Type.Array(DeploymentDoc), ...errors } },
      },
      async (request) => {
        const project = auth.requireProject(request);
        const service = serviceOf(project, request.params.name);
        const rows = rowsFor(store, service, requestedColour(request.query.colour));
        return store.deployments.listOfMany([...rows.keys()], 50).map((d) => deploymentDoc(d, rows.get(d.serviceId) ?? null));
      },
    );

    app.get(
      '/services/:name/revisions',
      {
        schema: {
          tags: ['deployments'],
          summary: 'Revisions, newest first: what each ran (variable names only, never values); every colour’s, or one with ?colour=NAME',
          params: ServiceParams,
          querystring: ColourQuery,
          response: { 200: Type.Array(RevisionDoc), ...errors },
        },
      },
      async (request) => {
        const project = auth.requireProject(request);
        const service = serviceOf(project, request.params.name);
        // Each colour numbers its own revisions: with colours, a revision is known by colour and number.
        const rows = rowsFor(store, service, requestedColour(request.query.colour));
        const revisions = [...rows].flatMap(([id, colour]) => store.revisions.list(id).map((r) => ({ r, colour })));
        revisions.sort((a, b) => b.r.createdAt - a.r.createdAt);
        return revisions.map(({ r, colour }) => ({
          number: r.number,
          status: r.status,
          created_at: iso(r.createdAt),
          image: r.definition.image ?? `tag ${r.definition.containerTag}`,
          replicas: r.definition.replicas,
          memory_reservation: r.definition.memoryReservationMiB,
          memory_limit: r.definition.memoryLimitMiB,
          container_port: r.definition.containerPort,
          command: r.definition.command === null ? null : [...r.definition.command],
          environment_names: r.definition.environment.map((e) => e.name),
          ...(colour === null ? {} : { colour }),
        }));
      },
    );

    app.get(
      '/services/:name/deployments/:id',
      { schema: { tags: ['deployments'], summary: 'One deployment', params: DeploymentParams, response: { 200: DeploymentDoc, ...errors } } },
      async (request) => {
        const project = auth.requireProject(request);
        const service = serviceOf(project, request.params.name);
        const { deployment, colour } = deploymentOf(service, Number(request.params.id));
        return deploymentDoc(deployment, colour);
      },
    );

    const cancel = async (request: { params: { name: string; id: string } } & Parameters<typeof auth.requireProject>[0]) => {
      const project = auth.requireProject(request);
      const service = serviceOf(project, request.params.name);
      const id = Number(request.params.id);
      const { deployment, colour } = deploymentOf(service, id);
      if (deployment.step !== 'rolling-back' && !canRollBack(deployment.step, strategyNamed(deployment.strategy))) {
        throw new ConflictError(`Deployment ${id} is at step '${deployment.step}' and can no longer be cancelled`);
      }
      const updated = deployment.step === 'rolling-back' ? deployment : store.deployments.rollBack(deployment, 'cancelled', 'cancelled by request');
      deps.audit.record({ actor: actor(project, request.ip), action: 'deployment.cancel', target: `${project}/${service.name}`, detail: `deployment ${id} (${colour === null ? '' : `colour ${colour}, `}revision ${deployment.revision})` });
      deps.desiredStateChanged();
      return deploymentDoc(updated, colour);
    };
    const cancelSchema = { schema: { tags: ['deployments'], summary: 'Cancel a deployment that has not switched traffic yet', params: DeploymentParams, response: { 200: DeploymentDoc, ...errors } } };
    app.post('/services/:name/deployments/:id/cancel', cancelSchema, cancel);
    app.delete('/services/:name/deployments/:id', cancelSchema, cancel);
  };
}

/** Each `--db` names a database of the project, and no two give the same variable (nor one the environment has). */
function checkDatabases(store: ApiDeps['store'], project: string, names: readonly string[], envNames: readonly string[]): void {
  const taken = new Map(envNames.map((n) => [n, 'the environment']));
  for (const name of names) {
    const db = store.databases.find(project, name);
    if (!db || db.status !== 'ACTIVE') throw new InvalidDefinitionError(`'databases' names '${name.slice(0, 64)}', which is not a database of this project`);
    for (const variable of ENGINES[db.engine].serviceEnv(name, name, '')) {
      const other = taken.get(variable.name);
      if (other) throw new InvalidDefinitionError(`Database '${name}' would set ${variable.name}, which ${other} sets too`);
      taken.set(variable.name, `database '${name}'`);
    }
  }
}

/** A stack's service changes with its stack: a lone change would be undone by the next `up`. */
export function refuseStackMember(store: Store, service: Service): void {
  if (service.stackId === null) return;
  throw new ServiceInStackError(service.name, store.stacks.byId(service.stackId)?.name ?? 'unknown');
}

export function actor(project: string, ip: string): string {
  return `project:${project} from ${ip}`;
}

export function boundedInt(text: string | undefined, fallback: number, max: number, name: string): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new BadRequestError(`'${name}' must be an integer between 1 and ${max}`);
  }
  return value;
}
