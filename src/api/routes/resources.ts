import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { ProjectResourceInUseError, ProjectResourceNotFoundError } from '../../domain/errors.js';
import { assertResourceName } from '../../domain/compose/stack-name.js';
import type { ProjectResourceRepository } from '../../store/stacks.js';
import type { Store } from '../../store/store.js';
import type { ApiDeps } from '../ports.js';
import { ErrorBody } from '../schemas.js';
import { ResourceDoc, ResourceParams } from '../stack-schemas.js';
import { actor } from './services.js';

const errors = { 400: ErrorBody, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody };
type Kind = 'network' | 'volume';

/**
 * A project's own networks and volumes (`docker network create sisock-net` becomes `berth network
 * create sisock-net`), which its stacks join as `external`. They are the project's: another
 * project never sees them, and names are per project.
 */
export function resourceRoutes(deps: ApiDeps): FastifyPluginAsyncTypebox {
  const { store, auth } = deps;
  const repository = (kind: Kind): ProjectResourceRepository => (kind === 'network' ? store.networks : store.volumes);

  return async (app) => {
    for (const kind of ['network', 'volume'] as const) {
      const base = `/${kind}s`;
      app.get(base, { schema: { tags: ['stacks'], summary: `The project’s ${kind}s`, response: { 200: Type.Array(ResourceDoc), ...errors } } }, async (request) => {
        const project = auth.requireProject(request);
        return repository(kind)
          .list(project)
          .map((r) => ({ name: r.name, created_at: new Date(r.createdAt).toISOString(), used_by: usersOf(store, project, kind, r.name) }));
      });

      app.post(
        base,
        { schema: { tags: ['stacks'], summary: `Make a project ${kind} that stacks use as external`, body: Type.Object({ name: Type.String({ maxLength: 256 }) }, { additionalProperties: false }), response: { 201: ResourceDoc, ...errors } } },
        async (request, reply) => {
          const project = auth.requireProject(request);
          const { name } = request.body;
          assertResourceName(kind, name);
          store.transaction(() => {
            repository(kind).create(project, name);
            deps.audit.record({ actor: actor(project, request.ip), action: `${kind}.create`, target: `${project}/${name}`, detail: null });
          });
          return reply.status(201).send({ name, created_at: new Date().toISOString(), used_by: [] });
        },
      );

      app.delete(`${base}/:name`, { schema: { tags: ['stacks'], summary: `Remove a project ${kind} no stack uses`, params: ResourceParams, response: { 200: Type.Object({ name: Type.String() }), ...errors } } }, async (request) => {
        const project = auth.requireProject(request);
        const { name } = request.params;
        if (!repository(kind).exists(project, name)) throw new ProjectResourceNotFoundError(kind, name);
        const users = usersOf(store, project, kind, name);
        if (users.length > 0) throw new ProjectResourceInUseError(`${kind === 'network' ? 'Network' : 'Volume'} '${name}' is used by stack ${users.join(', ')}; take ${users.length > 1 ? 'them' : 'it'} down first`);
        store.transaction(() => {
          repository(kind).markDeleting(project, name);
          deps.audit.record({ actor: actor(project, request.ip), action: `${kind}.delete`, target: `${project}/${name}`, detail: null });
        });
        deps.desiredStateChanged();
        return { name };
      });
    }
  };
}

/** The project's stacks whose file names the resource as external. */
function usersOf(store: Store, project: string, kind: Kind, name: string): string[] {
  return store.stacks
    .listByProject(project)
    .filter((s) => (kind === 'network' ? s.spec.networks : s.spec.volumes).some((r) => r.external === name))
    .map((s) => s.name);
}
