import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ADMIN, apiHarness, createProject, type Harness } from '../support/api-harness.js';

let h: Harness;
let token: string;

beforeEach(async () => {
  h = await apiHarness({ authFailures: 3 });
  token = await createProject(h.app, 'dash');
  await createProject(h.app, 'other');
  await h.app.inject({ method: 'POST', url: '/services', headers: { 'x-auth-token': token }, payload: { name: 'web' } });
});
afterEach(async () => h.close());

async function signIn(with_: string): Promise<{ cookie: string; body: { kind: string; project: string | null; projects: string[] } }> {
  const res = await h.app.inject({ method: 'POST', url: '/ui/session', payload: { token: with_ } });
  expect(res.statusCode).toBe(200);
  const setCookie = String(res.headers['set-cookie']);
  expect(setCookie).toMatch(/^berth_session=[\w-]{40,}; Max-Age=43200; Path=\/; HttpOnly; SameSite=Strict$/);
  return { cookie: setCookie.split(';')[0] as string, body: res.json() };
}

describe('the dashboard’s session', () => {
  it('trades a token for an HttpOnly cookie that reads with the project’s rights, and changes only with the dashboard’s header', async () => {
    const { cookie, body } = await signIn(token);
    expect(body).toEqual({ kind: 'project', project: 'dash', projects: ['dash'] });
    const list = await h.app.inject({ method: 'GET', url: '/services', headers: { cookie } });
    expect(list.json().map((s: { name: string }) => s.name)).toEqual(['web']);
    // A cross-site form can send the cookie (were it not SameSite) but never this header.
    expect((await h.app.inject({ method: 'POST', url: '/services', headers: { cookie }, payload: { name: 'api' } })).statusCode).toBe(403);
    expect((await h.app.inject({ method: 'POST', url: '/services', headers: { cookie, 'x-berth-ui': '1' }, payload: { name: 'api' } })).statusCode).toBe(201);
    // A project's session never acts on another project, whatever it names.
    const named = await h.app.inject({ method: 'GET', url: '/services', headers: { cookie, 'x-berth-project': 'other' } });
    expect(named.json().map((s: { name: string }) => s.name).sort()).toEqual(['api', 'web']);
    expect((await h.app.inject({ method: 'GET', url: '/ui/session', headers: { cookie } })).json()).toMatchObject({ kind: 'project' });
    const out = await h.app.inject({ method: 'DELETE', url: '/ui/session', headers: { cookie } });
    expect(String(out.headers['set-cookie'])).toMatch(/^berth_session=; Max-Age=0/);
    expect((await h.app.inject({ method: 'GET', url: '/services', headers: { cookie } })).statusCode).toBe(403);
    expect((await h.app.inject({ method: 'GET', url: '/ui/session', headers: { cookie } })).json()).toEqual({ kind: null, project: null, projects: [] });
  });

  it('lets the admin see every project, one at a time', async () => {
    const { cookie, body } = await signIn(ADMIN);
    expect(body).toEqual({ kind: 'admin', project: null, projects: ['dash', 'other'] });
    const dash = await h.app.inject({ method: 'GET', url: '/services', headers: { cookie, 'x-berth-project': 'dash' } });
    expect(dash.json().map((s: { name: string }) => s.name)).toEqual(['web']);
    expect((await h.app.inject({ method: 'GET', url: '/services', headers: { cookie, 'x-berth-project': 'nope' } })).statusCode).toBe(403);
  });

  it('refuses a wrong token like any failed authentication, and limits retries', async () => {
    for (let i = 0; i < 3; i++) expect((await h.app.inject({ method: 'POST', url: '/ui/session', payload: { token: 'wrong' } })).statusCode).toBe(403);
    expect((await h.app.inject({ method: 'POST', url: '/ui/session', payload: { token: 'wrong' } })).statusCode).toBe(429);
  });

  it('serves its pages with a strict Content-Security-Policy', async () => {
    const res = await h.app.inject({ method: 'GET', url: '/ui/' });
    expect(res.headers['content-security-policy']).toMatch(/default-src 'self'; script-src 'self'.*frame-ancestors 'none'/);
    expect(res.headers['x-frame-options']).toBe('DENY');
  });
});
