import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { BadRequestError } from '../../domain/errors.js';
import { assertProjectName } from '../../domain/names.js';
import type { ApiDeps } from '../ports.js';
import { AuditDoc, AuditQuery, CreateProjectBody, CreateProjectResponse, ErrorBody } from '../schemas.js';

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
        deps.audit.record({ actor: `admin from ${request.ip}`, action: 'project.create', target: name, detail: null });
        return reply.status(201).send({ name, token });
      },
    );

    app.get(
      '/audit',
      {
        schema: {
          tags: ['projects'],
          summary: 'Who did what and when, newest first (admin)',
          querystring: AuditQuery,
          response: { 200: AuditDoc, 400: ErrorBody, 403: ErrorBody },
        },
      },
      async (request) => {
        deps.auth.requireAdmin(request);
        const limit = request.query.limit === undefined ? 100 : Number(request.query.limit);
        if (limit < 1 || limit > 10_000) throw new BadRequestError("'limit' must be between 1 and 10000");
        return {
          entries: deps.audit.list(limit).map((e) => ({ ...e, at: new Date(e.at).toISOString() })),
        };
      },
    );
  };
}
