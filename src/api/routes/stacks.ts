import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { assertStackName, isServiceName, stackServiceName } from '../../domain/compose/stack-name.js';
import { BadRequestError, ConflictError, FeatureUnavailableError, StackNotFoundError, StackServiceNotFoundError } from '../../domain/errors.js';
import { DEFAULT_HEALTH_CHECK } from '../../domain/health-check.js';
import type { Service } from '../../domain/model.js';
import type { ApiDeps } from '../ports.js';
import { ErrorBody } from '../schemas.js';
import { assertNameFree, stackUp, stackServiceUrl } from '../stack-apply.js';
import { stackDoc } from '../stack-documents.js';
import {
  CredentialsBody,
  DeleteStackQuery,
  KillBody,
  RmBody,
  PutStackBody,
  PutStackQuery,
  PutStackResponse,
  STACK_BODY_LIMIT_BYTES,
  StackCredentialsDoc,
  StackDoc,
  StackParams,
  StackServiceParams,
  StackSummaryDoc,
} from '../stack-schemas.js';
import type { Stack } from '../../store/stacks.js';
import { actor } from './services.js';

const errors = { 400: ErrorBody, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody, 413: ErrorBody, 415: ErrorBody, 501: ErrorBody };
const SIGNAL = /^(SIG)?[A-Z][A-Z0-9+-]{0,14}$/;
/** Signals that end a task unless it handles them: a kill with one stops the service, as compose's does. */
const ENDING = new Set(['SIGKILL', 'SIGTERM', 'SIGINT', 'SIGQUIT']);

type Action = 'start' | 'stop' | 'restart' | 'kill';

/** Stacks: a project's compose files run as services (DESIGN.md "Stacks"). A project token sees only its own. */
export function stackRoutes(deps: ApiDeps): FastifyPluginAsyncTypebox {
  const { store, auth } = deps;

  function stackOf(project: string, name: string): Stack {
    const stack = store.stacks.find(project, name);
    if (!stack) throw new StackNotFoundError(name);
    return stack;
  }

  /** A stack's service by its compose name (as the user writes it) or berth's name. */
  function memberOf(stack: Stack, name: string): Service {
    const spec = stack.spec.services.find((s) => s.composeName === name || s.name === name);
    const service = spec ? store.services.find(stack.project, spec.name) : null;
    if (!service || service.stackId !== stack.id) throw new StackServiceNotFoundError(stack.name, name);
    return service;
  }

  return async (app) => {
    app.get('/stacks', { schema: { tags: ['stacks'], summary: 'The project’s stacks', response: { 200: Type.Array(StackSummaryDoc), ...errors } } }, async (request) => {
      const project = auth.requireProject(request);
      return store.stacks.listByProject(project).map((s) => ({
        name: s.name,
        revision: s.revision,
        status: s.status,
        services: store.services.ofStack(s.id).length,
        updated_at: new Date(s.updatedAt).toISOString(),
      }));
    });

    app.put(
      '/stacks/:name',
      {
        bodyLimit: STACK_BODY_LIMIT_BYTES,
        schema: {
          tags: ['stacks'],
          summary: 'compose up: store the stack’s files and deploy what changed (dry_run=true: compose config)',
          params: StackParams,
          querystring: PutStackQuery,
          body: PutStackBody,
          response: { 200: PutStackResponse, ...errors },
        },
      },
      async (request) => {
        const project = auth.requireProject(request);
        const name = request.params.name;
        assertStackName(project, name);
        const dryRun = request.query.dry_run === 'true';
        const result = await stackUp(deps, project, name, request.body, dryRun, actor(project, request.ip));
        if (!dryRun) deps.desiredStateChanged();
        return {
          name,
          revision: result.stack?.revision ?? 0,
          deployment: result.deployments,
          services: result.plan.services.map((s) => ({
            name: s.spec.composeName,
            service: s.spec.name,
            action: s.action,
            deployment: result.deployments[s.spec.name] ?? null,
            url: s.definition.stack?.routed ? stackServiceUrl(deps.publicUrl, project, s.spec.name) : null,
          })),
          warnings: [...result.plan.warnings],
          removed: [...result.removed],
          ...(dryRun ? { config: result.config } : {}),
        };
      },
    );

    app.get('/stacks/:name', { schema: { tags: ['stacks'], summary: 'compose ps: every service with state, health, replicas and URL', params: StackParams, response: { 200: StackDoc, ...errors } } }, async (request) => {
      const project = auth.requireProject(request);
      const stack = stackOf(project, request.params.name);
      return stackDoc(stack, store, deps.observer, deps.publicUrl);
    });

    app.delete(
      '/stacks/:name',
      { schema: { tags: ['stacks'], summary: 'compose down: remove the stack’s services and networks (volumes with volumes=true)', params: StackParams, querystring: DeleteStackQuery, response: { 200: Type.Object({ name: Type.String(), status: Type.String() }), ...errors } } },
      async (request) => {
        const project = auth.requireProject(request);
        const stack = stackOf(project, request.params.name);
        const volumes = request.query.volumes === 'true';
        store.transaction(() => {
          store.stacks.takeDown(stack.id, volumes);
          deps.audit.record({ actor: actor(project, request.ip), action: 'stack.down', target: `${project}/${stack.name}`, detail: `volumes ${volumes ? 'removed' : 'kept'}` });
        });
        deps.desiredStateChanged();
        return { name: stack.name, status: 'DRAINING' };
      },
    );

    const act = (action: Action) => async (request: { params: { name: string; service: string }; body?: unknown } & Parameters<typeof auth.requireProject>[0]) => {
      const project = auth.requireProject(request);
      const stack = stackOf(project, request.params.name);
      const service = memberOf(stack, request.params.service);
      const now = Date.now();
      let detail: string = action;
      store.transaction(() => {
        switch (action) {
          case 'start':
            store.services.setDesiredState(service.id, 'running');
            store.services.resetCrashes(service.id);
            break;
          case 'stop':
            store.services.setDesiredState(service.id, 'stopped');
            break;
          case 'restart':
            store.services.requestRestart(service.id, now);
            break;
          case 'kill': {
            const given = ((request.body ?? {}) as { signal?: string }).signal ?? 'SIGKILL';
            if (!SIGNAL.test(given)) throw new BadRequestError(`'${given.slice(0, 16)}' is not a signal name (SIGKILL, SIGHUP, SIGUSR1…)`);
            const signal = given.startsWith('SIG') ? given : `SIG${given}`;
            store.services.requestKill(service.id, signal, now, ENDING.has(signal));
            detail = `kill ${signal}`;
            break;
          }
        }
        store.events.add(service.id, `${detail} asked by compose`);
        deps.audit.record({ actor: actor(project, request.ip), action: `stack.${action}`, target: `${project}/${stack.name}/${service.name}`, detail });
      });
      deps.desiredStateChanged();
      return (await stackDoc(stack, store, deps.observer, deps.publicUrl)).services.find((s) => s.service === service.name);
    };
    const actionSchema = (action: Action) => ({
      schema: {
        tags: ['stacks'],
        summary: `compose ${action} of one service; remembered as its desired state`,
        params: StackServiceParams,
        ...(action === 'kill' ? { body: KillBody } : {}),
        response: { 200: Type.Unknown(), ...errors },
      },
    });
    for (const action of ['start', 'stop', 'restart', 'kill'] as const) {
      app.post(`/stacks/:name/services/:service/${action}`, actionSchema(action), act(action));
    }

    app.post(
      '/stacks/:name/services/:service/rm',
      { schema: { tags: ['stacks'], summary: 'compose rm: remove a stopped service (stop=true: stop it first); the next up makes it again', params: StackServiceParams, body: RmBody, response: { 200: Type.Unknown(), ...errors } } },
      async (request) => {
        const project = auth.requireProject(request);
        const stack = stackOf(project, request.params.name);
        const service = memberOf(stack, request.params.service);
        if (service.desiredState === 'running' && service.status !== 'DRAINING' && request.body.stop !== true) {
          throw new ConflictError(`Service '${request.params.service}' is running: stop it first, or remove it with rm -s`);
        }
        store.transaction(() => {
          store.services.setStatus(service.id, 'DRAINING');
          store.events.add(service.id, 'removed by compose rm');
          deps.audit.record({ actor: actor(project, request.ip), action: 'stack.rm', target: `${project}/${stack.name}/${service.name}`, detail: null });
        });
        deps.desiredStateChanged();
        return (await stackDoc(stack, store, deps.observer, deps.publicUrl)).services.find((s) => s.service === service.name);
      },
    );

    app.post(
      '/stacks/:name/credentials',
      { schema: { tags: ['stacks'], summary: 'compose build: push credentials scoped to each building service’s own repository', params: StackParams, body: CredentialsBody, response: { 200: StackCredentialsDoc, ...errors } } },
      async (request) => {
        const project = auth.requireProject(request);
        if (!deps.dockerCredentials) throw new FeatureUnavailableError('This server runs without a registry');
        const name = request.params.name;
        assertStackName(project, name);
        const services = store.transaction(() => {
          const stack = store.stacks.ensure(project, name);
          return request.body.services.map((composeName) => {
            const berthName = stackServiceName(name, composeName);
            if (!isServiceName(berthName)) throw new BadRequestError(`'${composeName.slice(0, 64)}' makes no valid service name ('${berthName.slice(0, 64)}')`);
            assertNameFree(store, project, name, stack.id, composeName, berthName);
            const existing = store.services.find(project, berthName);
            return { composeName, service: existing ?? store.services.create(project, berthName, DEFAULT_HEALTH_CHECK, stack.id) };
          });
        });
        const out: Record<string, Awaited<ReturnType<NonNullable<typeof deps.dockerCredentials>['credentialsFor']>>> = {};
        for (const { composeName, service } of services) out[composeName] = await deps.dockerCredentials.credentialsFor(service);
        deps.audit.record({ actor: actor(project, request.ip), action: 'registry.credentials', target: `${project}/${name}`, detail: `services ${services.map((s) => s.composeName).join(', ')}` });
        return { services: out };
      },
    );
  };
}
