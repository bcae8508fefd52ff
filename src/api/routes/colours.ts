import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { colourRole, ColourConflictError, ColourUnhealthyError } from '../../domain/colours.js';
import { ConflictError, ServiceDeletingError, ServiceNotFoundError } from '../../domain/errors.js';
import type { Service } from '../../domain/model.js';
import type { ObservedTask } from '../../domain/observed.js';
import { colourRow, requestedColour, rowFor } from '../colour-scope.js';
import type { ApiDeps } from '../ports.js';
import { ColourQuery, ErrorBody, ServiceParams, SwitchBody, SwitchResponse, UpdateServiceResponse } from '../schemas.js';
import { actor, refuseStackMember } from './services.js';

const errors = { 400: ErrorBody, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody, 503: ErrorBody };

/** Blue/green releases: switching a service's live colour, and redeploying what a colour runs (ADR 011). */
export function colourRoutes(deps: ApiDeps): FastifyPluginAsyncTypebox {
  const { store, auth } = deps;

  function serviceOf(project: string, name: string): Service {
    const service = store.services.find(project, name);
    if (!service) throw new ServiceNotFoundError(name.slice(0, 64));
    if (service.status === 'DRAINING') throw new ServiceDeletingError(service.name);
    return service;
  }

  return async (app) => {
    app.post(
      '/services/:name/switch',
      {
        schema: {
          tags: ['colours'],
          summary: 'Move live traffic to another colour: one route table write, then the store records it',
          params: ServiceParams,
          body: SwitchBody,
          response: { 200: SwitchResponse, ...errors },
        },
      },
      async (request) => {
        const startedAt = performance.now();
        const project = auth.requireProject(request);
        const service = serviceOf(project, request.params.name);
        const { colour } = request.body;
        const force = request.body.force ?? false;
        const row = colourRow(store, service, colour);
        if (row.status === 'DRAINING') throw new ColourConflictError(`Colour '${colour}' of '${service.name}' is being terminated`);
        const previous = service.liveColour as string;
        const took = (): number => Math.round((performance.now() - startedAt) * 10) / 10;
        if (previous === colour) return { name: service.name, live_colour: colour, previous_colour: previous, switched: false, took_ms: took() };
        if (!force) assertHealthy(service, colour, row, await deps.observer.tasks(row.id), store.events.list(row.id, 1)[0]?.message ?? null);
        let from = previous;
        await deps.colours.switchLive(service, colour, {
          force,
          // Runs once the gateway serves the colour: what the store and the audit trail say is what it serves.
          commit: () =>
            store.transaction(() => {
              const now = store.services.byId(service.id);
              const target = store.services.colourOf(service.id, colour);
              if (!now || now.status === 'DRAINING' || !target || target.status === 'DRAINING') {
                throw new ConflictError(`'${service.name}' or its colour '${colour}' is being removed; nothing was switched`);
              }
              from = now.liveColour as string;
              store.services.setLiveColour(service.id, colour);
              store.events.add(service.id, `switched live traffic from ${from} to ${colour}${force ? ' (forced)' : ''}`);
              deps.audit.record({ actor: actor(project, request.ip), action: 'service.switch', target: `${project}/${service.name}`, detail: `from ${from} to ${colour}${force ? ', forced' : ''}` });
            }),
        });
        return { name: service.name, live_colour: colour, previous_colour: from, switched: true, took_ms: took() };
      },
    );

    app.post(
      '/services/:name/redeploy',
      {
        schema: {
          tags: ['colours'],
          summary: 'Deploy the definition a service (or ?colour=NAME) runs again, pulling its tag again',
          params: ServiceParams,
          querystring: ColourQuery,
          response: { 200: UpdateServiceResponse, ...errors },
        },
      },
      async (request) => {
        const project = auth.requireProject(request);
        const service = serviceOf(project, request.params.name);
        refuseStackMember(store, service);
        const colour = requestedColour(request.query.colour);
        if (colour === undefined && colourRole(service) === 'coloured') {
          throw new ColourConflictError(`Service '${service.name}' has colours; name the one to redeploy with ?colour=NAME (berth redeploy --colour NAME)`);
        }
        const row = rowFor(store, service, colour);
        if (row.status === 'DRAINING') throw new ColourConflictError(`Colour '${colour ?? ''}' of '${service.name}' is being terminated`);
        const { revision, deployment } = store.transaction(() => {
          // What it serves, else what it was last asked to run (a first deployment that failed, say).
          const source = row.currentRevision === null ? store.revisions.list(row.id)[0] : store.revisions.get(row.id, row.currentRevision);
          if (!source) throw new ConflictError(`'${service.name}'${colour === undefined ? '' : ` colour ${colour}`} has no revision to redeploy; deploy a definition first`);
          const stored = store.revisions.add(row.id, source.definition);
          const started = store.deployments.create(row.id, stored.number, row.currentRevision);
          store.events.add(row.id, `revision ${stored.number} created: revision ${source.number} again, its image pulled again`, started.id);
          deps.audit.record({
            actor: actor(project, request.ip),
            action: 'service.redeploy',
            target: `${project}/${service.name}`,
            detail: `${colour === undefined ? '' : `colour ${colour}, `}revision ${stored.number} from revision ${source.number}`,
          });
          return { revision: stored, deployment: started };
        });
        deps.desiredStateChanged();
        return { name: service.name, revision: revision.number, deployment: deployment.id, ...(colour === undefined ? {} : { colour }) };
      },
    );
  };
}

/**
 * A switch without force needs a healthy task of what the colour serves. The refusal says what
 * each task's health check got, or, when none runs (an unhealthy one is being replaced, say),
 * the colour's last event, which says why.
 */
function assertHealthy(service: Service, colour: string, row: Service, tasks: readonly ObservedTask[], lastEvent: string | null): void {
  const serving = tasks.filter((t) => t.revision === row.currentRevision && t.desiredStatus === 'RUNNING');
  if (serving.some((t) => t.health === 'healthy')) return;
  const details = serving.map((t) => `${t.taskName}: ${t.health}${t.healthDescription ? ` (${t.healthDescription})` : ''}`);
  const why =
    details.length > 0
      ? details.join('; ')
      : `${row.currentRevision === null ? 'it has not finished a deployment yet' : 'none runs'}${lastEvent === null ? '' : ` (last event: ${lastEvent})`}`;
  throw new ColourUnhealthyError(`Colour '${colour}' of '${service.name}' has no healthy task: ${why}; switch with --force to send live traffic to it anyway`);
}
