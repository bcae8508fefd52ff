import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { existsSync } from 'node:fs';
import type { ApiDeps } from '../ports.js';
import { ErrorBody } from '../schemas.js';
import { SESSION_COOKIE, SESSION_TTL_MS } from '../ui-sessions.js';

/** The dashboard's pages may load only what the server sends them, and nothing may frame them. */
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const SessionDoc = Type.Object({ kind: Type.String({ description: 'admin or project' }), project: Type.Union([Type.String(), Type.Null()]), projects: Type.Array(Type.String()) });
const MaybeSessionDoc = Type.Object({ kind: Type.Union([Type.String(), Type.Null()], { description: 'admin, project, or null when not signed in' }), project: Type.Union([Type.String(), Type.Null()]), projects: Type.Array(Type.String()) });

/**
 * The dashboard: its static files under /ui/ (built by `npm run build`), and its sessions.
 * Signing in trades a token for an HttpOnly cookie (ADR 015); the pages then use the public
 * API like any client.
 */
export function uiRoutes(deps: ApiDeps): FastifyPluginAsyncTypebox {
  return async (app) => {
    const sessionDoc = (principal: { kind: 'admin' } | { kind: 'project'; project: string }) => ({
      kind: principal.kind,
      project: principal.kind === 'project' ? principal.project : null,
      projects: principal.kind === 'admin' ? deps.store.projects.list() : [principal.project],
    });

    app.post(
      '/ui/session',
      { schema: { tags: ['dashboard'], summary: 'Sign in to the dashboard with a token: sets its session cookie', body: Type.Object({ token: Type.String({ maxLength: 512 }) }, { additionalProperties: false }), response: { 200: SessionDoc, 403: ErrorBody, 429: ErrorBody } } },
      async (request, reply) => {
        const principal = deps.auth.principalOfToken(request.body.token) ?? deps.auth.refuse(request);
        const id = deps.sessions.create(principal);
        deps.audit.record({ actor: `${principal.kind === 'admin' ? 'admin' : `project:${principal.project}`} from ${request.ip}`, action: 'dashboard.sign-in', target: principal.kind === 'admin' ? '*' : principal.project, detail: null });
        void reply.setCookie(SESSION_COOKIE, id, { httpOnly: true, sameSite: 'strict', path: '/', secure: request.protocol === 'https', maxAge: SESSION_TTL_MS / 1000 });
        return sessionDoc(principal);
      },
    );

    app.get('/ui/session', { schema: { tags: ['dashboard'], summary: 'Who the dashboard is signed in as (kind null: nobody)', response: { 200: MaybeSessionDoc } } }, async (request) => {
      const principal = deps.auth.sessionOf(request);
      return principal === null ? { kind: null, project: null, projects: [] } : sessionDoc(principal);
    });

    app.delete('/ui/session', { schema: { tags: ['dashboard'], summary: 'Sign out of the dashboard', response: { 200: Type.Object({ signed_out: Type.Boolean() }) } } }, async (request, reply) => {
      const id = request.cookies[SESSION_COOKIE];
      if (typeof id === 'string') deps.sessions.end(id);
      void reply.clearCookie(SESSION_COOKIE, { path: '/' });
      return { signed_out: true };
    });

    app.addHook('onSend', async (request, reply, payload) => {
      if (request.url === '/ui' || request.url.startsWith('/ui/')) {
        void reply.header('content-security-policy', CSP).header('x-content-type-options', 'nosniff').header('referrer-policy', 'no-referrer').header('x-frame-options', 'DENY');
      }
      return payload;
    });

    app.get('/ui', { schema: { hide: true } }, async (_request, reply) => reply.redirect('/ui/'));
    if (deps.uiDir !== null && existsSync(deps.uiDir)) {
      await app.register(fastifyStatic, { root: deps.uiDir, prefix: '/ui/', index: ['index.html'], cacheControl: true, maxAge: 0, schemaHide: true });
    } else {
      app.get('/ui/*', { schema: { hide: true } }, async (_request, reply) => reply.code(404).type('text/plain').send('The dashboard is not built: run npm run build\n'));
    }
  };
}
