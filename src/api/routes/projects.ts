import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { assertProjectName } from '../../domain/names.js';
import type { ApiDeps } from '../ports.js';
import { CreateProjectBody, CreateProjectResponse, ErrorBody } from '../schemas.js';

export function projectRoutes(deps: ApiDeps): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.post(
      '/projects',
      {
        schema: {
          tags: ['projects'],
          summary: 'Create a project and its token (admin)',
          body: CreateProjectBody,
          response: { 201: CreateProjectResponse, 400: ErrorBody, 403: ErrorBody, 409: ErrorBody },
        },
      },
      async (request, reply) => {
        deps.auth.requireAdmin(request);
        const { name } = request.body;
        assertProjectName(name);
        const token = deps.store.projects.create(name);
        return reply.status(201).send({ name, token });
      },
    );
  };
}
