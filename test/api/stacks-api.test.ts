import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { apiHarness, createProject, VALID_DEFINITION, type Harness } from '../support/api-harness.js';

let h: Harness;
let token: string;
let other: string;

beforeEach(async () => {
  h = await apiHarness({ hostPolicy: { hostPorts: { min: 12000, max: 12999 }, bindMountDirs: ['/srv/allowed'] }, capacityMiB: 4096 });
  token = await createProject(h.app, 'kge');
  other = await createProject(h.app, 'intruder');
});
afterEach(async () => h.close());

function call(method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, payload?: unknown, auth: string = token) {
  return h.app.inject({ method, url, headers: { 'x-auth-token': auth }, ...(payload === undefined ? {} : { payload: payload as object }) });
}

const KGE = `
services:
  web:
    image: kge-web:1
    ports: ["8000:8000"]
    environment:
      REDIS_URL: redis://redis:6379
    depends_on: [redis]
  worker:
    image: kge-web:1
    command: ["worker"]
    depends_on:
      redis: {condition: service_started}
  redis:
    image: redis:alpine
    volumes: [data:/data]
volumes:
  data: {}
`;

describe('PUT /stacks/<name> (compose up)', () => {
  it('creates a service per compose service, routed ones start-first, the others stop-first, and lists them in GET /services', async () => {
    const res = await call('PUT', '/stacks/images', { compose: KGE });
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json();
    expect(body.revision).toBe(1);
    expect(body.services.map((s: { name: string; action: string }) => [s.name, s.action])).toEqual([
      ['redis', 'create'],
      ['web', 'create'],
      ['worker', 'create'],
    ]);
    expect(body.services.find((s: { name: string }) => s.name === 'web').url).toBe('http://gw.example:8080/kge-images-web/');
    expect(body.services.find((s: { name: string }) => s.name === 'redis').url).toBeNull();
    // 8000 is outside the server's host-port range: reached through the gateway, and said so.
    expect(body.warnings.join('\n')).toMatch(/web: host port 8000 → 8000 is not published .*12000-12999.*gateway/);
    const strategies = Object.entries(body.deployment as Record<string, number>).map(([name, id]) => [name, h.store.deployments.get(id)?.strategy]);
    expect(strategies).toEqual(
      expect.arrayContaining([
        ['images-web', 'start-first'],
        ['images-worker', 'stop-first'],
        ['images-redis', 'stop-first'],
      ]),
    );
    const names = (await call('GET', '/services')).json().map((s: { name: string }) => s.name);
    expect(names).toEqual(expect.arrayContaining(['images-web', 'images-worker', 'images-redis']));
    expect(h.kicks()).toBeGreaterThan(0);
  });

  it('changes only what changed when up runs again', async () => {
    await call('PUT', '/stacks/images', { compose: KGE });
    const again = (await call('PUT', '/stacks/images', { compose: KGE.replace('command: ["worker"]', 'command: ["worker", "--fast"]') })).json();
    expect(again.revision).toBe(2);
    expect(again.services.map((s: { name: string; action: string }) => [s.name, s.action])).toEqual([
      ['redis', 'unchanged'],
      ['web', 'unchanged'],
      ['worker', 'update'],
    ]);
    expect(Object.keys(again.deployment)).toEqual(['images-worker']);
  });

  it('starts only the services named and their dependencies; --no-deps only those', async () => {
    const some = (await call('PUT', '/stacks/images', { compose: KGE, services: ['web'] })).json();
    expect(some.services.map((s: { name: string }) => s.name).sort()).toEqual(['redis', 'web']);
    const alone = (await call('PUT', '/stacks/images2', { compose: KGE, services: ['worker'], no_deps: true })).json();
    expect(alone.services.map((s: { name: string }) => s.name)).toEqual(['worker']);
    const ps = (await call('GET', '/stacks/images')).json();
    expect(ps.services.map((s: { name: string; state: string }) => [s.name, s.state])).toEqual([
      ['redis', 'deploying'],
      ['web', 'deploying'],
      ['worker', 'not created'],
    ]);
  });

  it('refuses a bad file with every problem and its line, changing nothing', async () => {
    const bad = `services:
  web:
    image: x
    depends_on: [nope]
    ports: ["70000:80"]
  db:
    image: postgres:15
    volumes: ["/etc:/host-etc"]
`;
    const res = await call('PUT', '/stacks/bad', { compose: bad });
    expect(res.statusCode).toBe(400);
    expect(res.json().code).toBe('BERTH_INVALID_COMPOSE');
    const problems = res.json().problems as { path: string; message: string; line?: number }[];
    expect(problems.length).toBeGreaterThanOrEqual(2);
    expect(problems.some((p) => p.path.startsWith('services.web.ports') && p.line === 5)).toBe(true);
    expect((await call('GET', '/stacks')).json()).toEqual([]);
    expect((await call('GET', '/services')).json()).toEqual([]);
  });

  it('refuses a bind mount outside the allowed directories only for the services it starts', async () => {
    const file = `services:
  web: {image: "busybox:1", ports: ["80"]}
  db: {image: "postgres:15", volumes: ["/etc:/host-etc"]}
`;
    const all = await call('PUT', '/stacks/binds', { compose: file });
    expect(all.statusCode).toBe(400);
    expect(all.json().Error).toMatch(/bind mount \/etc .* outside the directories the server allows/);
    const web = await call('PUT', '/stacks/binds', { compose: file, services: ['web'] });
    expect(web.statusCode, web.body).toBe(200);
  });

  it('answers what up would do with dry_run, changing nothing (compose config)', async () => {
    const res = await call('PUT', '/stacks/images?dry_run=true', { compose: KGE });
    expect(res.statusCode).toBe(200);
    expect(res.json().config.services.web.image).toBe('kge-web:1');
    expect((await call('GET', '/stacks')).json()).toEqual([]);
  });

  it('refuses a stack whose services can never fit the memory berth may reserve', async () => {
    const res = await call('PUT', '/stacks/huge', { compose: 'services:\n  a: {image: x, mem_limit: 3g, mem_reservation: 3g}\n  b: {image: x, mem_limit: 3g, mem_reservation: 3g}\n' });
    expect(res.statusCode).toBe(409);
    expect(res.json()).toMatchObject({ code: 'BERTH_STACK_TOO_LARGE' });
    expect((await call('GET', '/stacks')).json()).toEqual([]);
  });

  it('refuses a name longer than a DNS label, and a compose name that would take a service outside the stack', async () => {
    await call('POST', '/services', { name: 'app-web' });
    const clash = await call('PUT', '/stacks/app', { compose: 'services:\n  web: {image: x}\n' });
    expect(clash.statusCode).toBe(409);
    expect(clash.json().code).toBe('BERTH_STACK_NAME_TAKEN');
    const long = await call('PUT', '/stacks/s', { compose: `services:\n  ${'x'.repeat(60)}: {image: x}\n` });
    expect(long.statusCode).toBe(400);
    expect(long.json().Error).toMatch(/at most 63 fit in a DNS label/);
  });
});

describe('a stack service through the Services API', () => {
  it('answers 409 naming its stack to PUT and DELETE', async () => {
    await call('PUT', '/stacks/images', { compose: KGE });
    const put = await call('PUT', '/services/images-web', VALID_DEFINITION);
    expect(put.statusCode).toBe(409);
    expect(put.json()).toMatchObject({ code: 'BERTH_SERVICE_IN_STACK' });
    expect(put.json().Error).toMatch(/stack 'images'/);
    expect((await call('DELETE', '/services/images-web')).statusCode).toBe(409);
  });
});

describe('compose start, stop, restart, kill', () => {
  it('remembers them as the service’s desired state', async () => {
    await call('PUT', '/stacks/images', { compose: KGE });
    expect((await call('POST', '/stacks/images/services/worker/stop')).statusCode).toBe(200);
    expect(h.store.services.find('kge', 'images-worker')?.desiredState).toBe('stopped');
    await call('POST', '/stacks/images/services/worker/start');
    expect(h.store.services.find('kge', 'images-worker')?.desiredState).toBe('running');
    await call('POST', '/stacks/images/services/web/kill', { signal: 'HUP' });
    expect(h.store.services.find('kge', 'images-web')).toMatchObject({ desiredState: 'running', kill: { signal: 'SIGHUP' } });
    await call('POST', '/stacks/images/services/web/kill', {});
    expect(h.store.services.find('kge', 'images-web')).toMatchObject({ desiredState: 'stopped', kill: { signal: 'SIGKILL' } });
    expect((await call('POST', '/stacks/images/services/web/kill', { signal: 'rm -rf' })).statusCode).toBe(400);
    expect((await call('POST', '/stacks/images/services/nope/stop')).statusCode).toBe(404);
  });
});

describe('another project', () => {
  it('sees none of the stack, its services, networks or volumes, and cannot act on them', async () => {
    await call('PUT', '/stacks/images', { compose: KGE });
    await call('POST', '/networks', { name: 'shared-net' });
    await call('POST', '/volumes', { name: 'shared-data' });
    expect((await call('GET', '/stacks', undefined, other)).json()).toEqual([]);
    expect((await call('GET', '/stacks/images', undefined, other)).statusCode).toBe(404);
    expect((await call('DELETE', '/stacks/images', undefined, other)).statusCode).toBe(404);
    expect((await call('POST', '/stacks/images/services/web/stop', undefined, other)).statusCode).toBe(404);
    expect((await call('GET', '/networks', undefined, other)).json()).toEqual([]);
    expect((await call('DELETE', '/networks/shared-net', undefined, other)).statusCode).toBe(404);
    expect((await call('DELETE', '/volumes/shared-data', undefined, other)).statusCode).toBe(404);
    // Its own external network of the same name is its own; the first project's is not joined.
    const res = await call('PUT', '/stacks/sneak', { compose: 'services:\n  a: {image: x, networks: [n]}\nnetworks:\n  n: {external: true, name: shared-net}\n' }, other);
    expect(res.statusCode).toBe(400);
    expect(res.json().Error).toMatch(/network 'shared-net'/);
    expect(h.store.services.find('kge', 'images-web')?.desiredState).toBe('running');
  });
});

describe('project networks and volumes', () => {
  it('makes, lists and removes them; one a stack uses stays', async () => {
    expect((await call('POST', '/networks', { name: 'sisock-net' })).statusCode).toBe(201);
    expect((await call('POST', '/networks', { name: 'sisock-net' })).statusCode).toBe(409);
    expect((await call('POST', '/networks', { name: '../x' })).statusCode).toBe(400);
    await call('PUT', '/stacks/sisock', { compose: 'services:\n  a: {image: x, networks: [n]}\nnetworks:\n  n: {external: true, name: sisock-net}\n' });
    expect((await call('GET', '/networks')).json()).toMatchObject([{ name: 'sisock-net', used_by: ['sisock'] }]);
    expect((await call('DELETE', '/networks/sisock-net')).statusCode).toBe(409);
    await call('DELETE', '/stacks/sisock');
    // As the reconciler does once the stack's tasks are gone.
    const stack = h.store.stacks.find('kge', 'sisock')?.id as number;
    for (const s of h.store.services.ofStack(stack)) h.store.services.delete(s.id);
    h.store.stacks.delete(stack);
    expect((await call('DELETE', '/networks/sisock-net')).statusCode).toBe(200);
  });
});
