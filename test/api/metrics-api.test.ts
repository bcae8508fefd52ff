import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ADMIN, apiHarness, createProject, type Harness } from '../support/api-harness.js';

let h: Harness;
let token: string;
let other: string;

beforeEach(async () => {
  h = await apiHarness();
  token = await createProject(h.app, 'obs');
  other = await createProject(h.app, 'nosy');
});
afterEach(async () => h.close());

const get = (url: string, auth: string) => h.app.inject({ method: 'GET', url, headers: { 'x-auth-token': auth } });

describe('GET /metrics', () => {
  it('answers Prometheus text to the admin token only', async () => {
    const admin = await get('/metrics', ADMIN);
    expect(admin.statusCode).toBe(200);
    expect(admin.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(admin.body).toMatch(/# TYPE berth_reconcile_pass_duration_seconds histogram/);
    expect((await get('/metrics', token)).statusCode).toBe(403);
  });
});

describe('GET /services/<name>/metrics', () => {
  it("answers the service's last hour to its project, and 404 to another", async () => {
    await h.app.inject({ method: 'POST', url: '/services', headers: { 'x-auth-token': token }, payload: { name: 'web' } });
    const own = await get('/services/web/metrics', token);
    expect(own.statusCode).toBe(200);
    expect(own.json()).toEqual({ interval_seconds: 15, points: [] });
    expect((await get('/services/web/metrics', other)).statusCode).toBe(404);
  });
});
