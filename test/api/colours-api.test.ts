import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ServiceDefinition } from '../../src/domain/definition.js';
import type { Job } from '../../src/domain/job.js';
import type { Service } from '../../src/domain/model.js';
import type { ObservedTask } from '../../src/domain/observed.js';
import { SealedTaskEnvironment } from '../../src/reconciler/task-environment.js';
import { ADMIN, apiHarness, createProject, VALID_DEFINITION, type Harness } from '../support/api-harness.js';

let h: Harness;
let token: string;

beforeEach(async () => {
  h = await apiHarness();
  token = await createProject(h.app, 'exp');
  expect((await call('POST', '/services', { name: 'nmpi' })).statusCode).toBe(201);
});
afterEach(async () => h.close());

function call(method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, payload?: unknown, auth: string = token) {
  return h.app.inject({ method, url, headers: { 'x-auth-token': auth }, ...(payload === undefined ? {} : { payload: payload as object }) });
}

async function deploy(colour: string, tag = colour): Promise<{ revision: number; deployment: number; colour: string }> {
  const res = await call('PUT', `/services/nmpi?colour=${colour}`, { ...VALID_DEFINITION, 'container-tag': tag });
  expect(res.statusCode, res.body).toBe(200);
  return res.json();
}

/** What the observer shows for every row: one task of revision 1, in the given health. */
function tasks(health: ObservedTask['health'], description: string | null = null): void {
  h.observer.taskList = [
    { taskName: 'nmpi-x-1a2b', revision: 1, createdAt: new Date(0), desiredStatus: 'RUNNING', lastStatus: 'RUNNING', image: 'i', ip: '10.0.0.2', health, healthDescription: description },
  ];
}

/** Marks a colour's first revision as serving, as a finished deployment does. */
function served(colour: string): void {
  const parent = h.store.services.find('exp', 'nmpi');
  const row = h.store.services.colourOf(parent?.id ?? 0, colour);
  h.store.services.setCurrentRevision(row?.id ?? 0, 1);
}

async function audit(): Promise<{ action: string; detail: string | null }[]> {
  return (await call('GET', '/audit?limit=50', undefined, ADMIN)).json().entries;
}

describe('deploying into colours', () => {
  it('gives each colour its own revisions; the first colour is live, later ones wait', async () => {
    expect(await deploy('blue')).toMatchObject({ name: 'nmpi', revision: 1, colour: 'blue' });
    expect(await deploy('green')).toMatchObject({ revision: 1, colour: 'green' });
    expect(await deploy('green', 'green2')).toMatchObject({ revision: 2, colour: 'green' });
    expect((await call('GET', '/services')).json().map((s: { name: string }) => s.name)).toEqual(['nmpi']);

    const status = (await call('GET', '/services/nmpi')).json().status;
    expect(status.live_colour).toBe('blue');
    expect(status.colours.map((c: { colour: string; live: boolean; count_desired: number }) => [c.colour, c.live, c.count_desired])).toEqual([
      ['blue', true, 1],
      ['green', false, 1],
    ]);
    expect(status.colours[1].deployment).toMatchObject({ revision: 2, step: 'pending' });
    // The top level is the live colour's, in servicectl's shape.
    expect(status.deployment).toMatchObject({ revision: 1 });
    expect(status.events.map((e: { message: string; colour?: string }) => [e.colour ?? '', e.message])).toEqual(
      expect.arrayContaining([
        ['', 'colour blue created, live: it is the first colour'],
        ['', 'colour green created; it serves live traffic once switched to'],
        ['green', 'revision 2 created (tag green2, 1 × 64 MiB)'],
      ]),
    );
    const deployments = (await call('GET', '/services/nmpi/deployments')).json();
    expect(deployments.map((d: { colour: string; revision: number }) => [d.colour, d.revision])).toEqual([
      ['green', 2],
      ['green', 1],
      ['blue', 1],
    ]);
    const green = (await call('GET', '/services/nmpi/deployments?colour=green')).json();
    expect(green).toHaveLength(2);
    expect((await call('GET', `/services/nmpi/deployments/${green[0].id}`)).json()).toMatchObject({ colour: 'green', revision: 2 });
    // Each colour numbers its own revisions: they are told apart by colour.
    const revisions = (await call('GET', '/services/nmpi/revisions')).json();
    expect(revisions.map((r: { colour: string; number: number }) => `${r.colour} ${r.number}`).sort()).toEqual(['blue 1', 'green 1', 'green 2']);
    const greenRevisions = (await call('GET', '/services/nmpi/revisions?colour=green')).json();
    expect(greenRevisions.map((r: { number: number; image: string }) => [r.number, r.image])).toEqual([
      [2, 'tag green2'],
      [1, 'tag green'],
    ]);
    const events = (await call('GET', '/services/nmpi/events?colour=blue')).json().events;
    expect(events.every((e: { colour: string }) => e.colour === 'blue')).toBe(true);
    expect((await audit()).map((e) => e.detail)).toContain('colour green, revision 2: tag green2, 1 replica(s), 32/64 MiB, port 80, env [GREETING]');
  });

  it('keeps a service without colours exactly as it was', async () => {
    expect((await call('PUT', '/services/nmpi', VALID_DEFINITION)).json()).toEqual({ name: 'nmpi', revision: 1, deployment: 1 });
    const status = (await call('GET', '/services/nmpi')).json().status;
    expect(status).not.toHaveProperty('live_colour');
    expect(status).not.toHaveProperty('colours');
    expect(status.events.some((e: object) => 'colour' in e)).toBe(false);
    expect((await call('GET', '/services/nmpi/deployments')).json()[0]).not.toHaveProperty('colour');
    expect((await call('GET', '/services/nmpi/revisions')).json()[0]).not.toHaveProperty('colour');
  });

  it('refuses to mix colours and no colours, a fifth colour, and bad colour names, changing nothing', async () => {
    expect((await call('PUT', '/services/nmpi', VALID_DEFINITION)).statusCode).toBe(200);
    const mixed = await call('PUT', '/services/nmpi?colour=blue', VALID_DEFINITION);
    expect([mixed.statusCode, mixed.json().code]).toEqual([409, 'BERTH_COLOUR_CONFLICT']);
    expect(mixed.json().Error).toMatch(/was deployed without a colour/);

    expect((await call('POST', '/services', { name: 'web' })).statusCode).toBe(201);
    for (const colour of ['a', 'b', 'c', 'd']) expect((await call('PUT', `/services/web?colour=${colour}`, VALID_DEFINITION)).statusCode).toBe(200);
    const fifth = await call('PUT', '/services/web?colour=e', VALID_DEFINITION);
    expect([fifth.statusCode, fifth.json().code]).toEqual([409, 'BERTH_COLOUR_CONFLICT']);
    const none = await call('PUT', '/services/web', VALID_DEFINITION);
    expect([none.statusCode, none.json().Error]).toEqual([409, expect.stringMatching(/has colours \(a, b, c, d\); deploy into one/)]);

    for (const colour of ['Green', 'gr-een', 'green2', '', 'x'.repeat(17), '%20']) {
      const res = await call('PUT', `/services/web?colour=${encodeURIComponent(colour)}`, VALID_DEFINITION);
      expect([res.statusCode, res.json().code], colour).toEqual([400, 'BERTH_INVALID_COLOUR']);
    }
    const web = h.store.services.find('exp', 'web');
    expect(h.store.services.coloursOf(web?.id ?? 0).map((c) => c.colour)).toEqual(['a', 'b', 'c', 'd']);
  });

  it('keeps colours to their project: another project’s token finds no such service', async () => {
    await deploy('blue');
    await deploy('green');
    const other = await createProject(h.app, 'exp-other');
    const attempts = [
      call('PUT', '/services/nmpi?colour=green', VALID_DEFINITION, other),
      call('POST', '/services/nmpi/switch', { colour: 'green', force: true }, other),
      call('POST', '/services/nmpi/redeploy?colour=green', undefined, other),
      call('DELETE', '/services/nmpi?colour=green', undefined, other),
      call('GET', '/services/nmpi?colour=green', undefined, other),
      call('GET', '/services/nmpi/events?colour=green', undefined, other),
      call('GET', '/services/nmpi?view=logs&colour=green', undefined, other),
    ];
    for (const res of await Promise.all(attempts)) expect([res.statusCode, res.json().code]).toEqual([404, 'BERTH_SERVICE_NOT_FOUND']);
    expect(h.colours.switches).toEqual([]);
    expect(h.store.services.find('exp', 'nmpi')?.liveColour).toBe('blue');
  });
});

describe('jobs of a service with colours', () => {
  it('run with the live colour’s revision', async () => {
    await deploy('blue', 'v1');
    await deploy('green', 'v2');
    served('blue');
    served('green');
    const job = await call('POST', '/jobs', { service: 'nmpi', command: ['true'] });
    expect(job.statusCode, job.body).toBe(201);
    expect((await call('GET', `/jobs/${job.json().id}`)).json().image).toBe('nmpi:v1');
    tasks('healthy');
    expect((await call('POST', '/services/nmpi/switch', { colour: 'green' })).statusCode).toBe(200);
    const next = await call('POST', '/jobs', { service: 'nmpi', command: ['true'] });
    expect((await call('GET', `/jobs/${next.json().id}`)).json().image).toBe('nmpi:v2');
  });
});

describe('switching', () => {
  beforeEach(async () => {
    await deploy('blue');
    await deploy('green');
    served('blue');
    served('green');
  });

  it('switches to a healthy colour, records it in status, events and the audit trail, and switches back', async () => {
    tasks('healthy');
    const res = await call('POST', '/services/nmpi/switch', { colour: 'green' });
    expect(res.json()).toMatchObject({ name: 'nmpi', live_colour: 'green', previous_colour: 'blue', switched: true });
    expect(res.json().took_ms).toBeGreaterThanOrEqual(0);
    expect(h.colours.switches).toEqual([{ service: 'nmpi', colour: 'green', force: false }]);
    const status = (await call('GET', '/services/nmpi')).json().status;
    expect(status.live_colour).toBe('green');
    expect(status.colours.find((c: { live: boolean }) => c.live).colour).toBe('green');
    expect(status.events[0].message).toBe('switched live traffic from blue to green');
    expect((await audit())[0]).toMatchObject({ action: 'service.switch', detail: 'from blue to green' });

    expect((await call('POST', '/services/nmpi/switch', { colour: 'blue' })).json()).toMatchObject({ live_colour: 'blue', previous_colour: 'green', switched: true });
    const again = await call('POST', '/services/nmpi/switch', { colour: 'blue' });
    expect(again.json()).toMatchObject({ live_colour: 'blue', switched: false });
    expect(h.colours.switches).toHaveLength(2);
  });

  it('refuses a colour without a healthy task, saying which tasks and why, unless forced', async () => {
    tasks('unhealthy', 'Health checks failed with these codes: [500]');
    const res = await call('POST', '/services/nmpi/switch', { colour: 'green' });
    expect([res.statusCode, res.json().code]).toEqual([409, 'BERTH_COLOUR_UNHEALTHY']);
    expect(res.json().Error).toContain('nmpi-x-1a2b: unhealthy (Health checks failed with these codes: [500])');
    expect(h.colours.switches).toEqual([]);
    expect(h.store.services.find('exp', 'nmpi')?.liveColour).toBe('blue');

    const forced = await call('POST', '/services/nmpi/switch', { colour: 'green', force: true });
    expect(forced.json()).toMatchObject({ live_colour: 'green', switched: true });
    expect((await audit())[0]).toMatchObject({ action: 'service.switch', detail: 'from blue to green, forced' });
  });

  it('answers 404 for an unknown colour, 400 for a bad name, and changes nothing when the gateway fails', async () => {
    tasks('healthy');
    const unknown = await call('POST', '/services/nmpi/switch', { colour: 'purple' });
    expect([unknown.statusCode, unknown.json().code]).toEqual([404, 'BERTH_COLOUR_NOT_FOUND']);
    expect(unknown.json().Error).toMatch(/its colours: blue, green/);
    const bad = await call('POST', '/services/nmpi/switch', { colour: 'Green!' });
    expect([bad.statusCode, bad.json().code]).toEqual([400, 'BERTH_INVALID_COLOUR']);
    h.colours.failWith = new Error('table not written');
    expect((await call('POST', '/services/nmpi/switch', { colour: 'green' })).statusCode).toBe(500);
    expect(h.store.services.find('exp', 'nmpi')?.liveColour).toBe('blue');
    expect((await audit()).some((e) => e.action === 'service.switch')).toBe(false);
  });
});

describe('terminating and redeploying a colour', () => {
  it('terminates a colour that is not live, never the live one', async () => {
    await deploy('blue');
    await deploy('green');
    const live = await call('DELETE', '/services/nmpi?colour=blue');
    expect([live.statusCode, live.json().code]).toEqual([409, 'BERTH_COLOUR_LIVE']);
    expect((await call('DELETE', '/services/nmpi?colour=green')).json()).toEqual({ name: 'nmpi', status: 'DRAINING', colour: 'green' });
    const parent = h.store.services.find('exp', 'nmpi');
    expect(h.store.services.colourOf(parent?.id ?? 0, 'green')?.status).toBe('DRAINING');
    expect(h.store.services.colourOf(parent?.id ?? 0, 'blue')?.status).toBe('INACTIVE');
    const redeploy = await call('PUT', '/services/nmpi?colour=green', VALID_DEFINITION);
    expect([redeploy.statusCode, redeploy.json().Error]).toEqual([409, expect.stringMatching(/being terminated/)]);
    expect((await call('DELETE', '/services/nmpi?colour=purple')).statusCode).toBe(404);
    expect((await audit())[0]).toMatchObject({ action: 'service.terminate', detail: 'colour green' });
  });

  it('deletes a service with all its colours', async () => {
    await deploy('blue');
    await deploy('green');
    expect((await call('DELETE', '/services/nmpi')).json()).toEqual({ name: 'nmpi', status: 'DRAINING' });
    const parent = h.store.services.find('exp', 'nmpi');
    expect(h.store.services.coloursOf(parent?.id ?? 0).map((c) => c.status)).toEqual(['DRAINING', 'DRAINING']);
  });

  it('redeploys what a colour serves as a new revision, so its tag is pulled again', async () => {
    await deploy('blue');
    await deploy('green', 'v7');
    served('green');
    const res = await call('POST', '/services/nmpi/redeploy?colour=green');
    expect(res.json()).toMatchObject({ name: 'nmpi', revision: 2, colour: 'green' });
    const parent = h.store.services.find('exp', 'nmpi');
    const green = h.store.services.colourOf(parent?.id ?? 0, 'green');
    expect(h.store.revisions.get(green?.id ?? 0, 2)?.definition).toEqual(h.store.revisions.get(green?.id ?? 0, 1)?.definition);
    expect(h.store.deployments.latest(green?.id ?? 0)).toMatchObject({ revision: 2, previousRevision: 1, step: 'pending' });
    const without = await call('POST', '/services/nmpi/redeploy');
    expect([without.statusCode, without.json().code]).toEqual([409, 'BERTH_COLOUR_CONFLICT']);
  });

  it('redeploys a service without colours, and refuses one with nothing to redeploy', async () => {
    const none = await call('POST', '/services/nmpi/redeploy');
    expect([none.statusCode, none.json().Error]).toEqual([409, expect.stringMatching(/no revision to redeploy/)]);
    expect((await call('PUT', '/services/nmpi', VALID_DEFINITION)).statusCode).toBe(200);
    expect((await call('POST', '/services/nmpi/redeploy')).json()).toEqual({ name: 'nmpi', revision: 2, deployment: 2 });
  });
});

describe("a colour's secrets", () => {
  it('belong to its own revision; a job run from the service gets the live colour’s', async () => {
    for (const colour of ['blue', 'green']) {
      const res = await call('PUT', `/services/nmpi?colour=${colour}`, { ...VALID_DEFINITION, secrets: [{ name: 'API_KEY', value: `${colour}-key` }] });
      expect(res.statusCode, res.body).toBe(200);
      served(colour);
    }
    const env = new SealedTaskEnvironment(h.store, h.secrets);
    const parent = h.store.services.find('exp', 'nmpi') as Service;
    for (const colour of ['blue', 'green']) {
      const row = h.store.services.colourOf(parent.id, colour) as Service;
      const definition = h.store.revisions.get(row.id, 1)?.definition as ServiceDefinition;
      expect(env.forService('exp', row.id, 1, definition)).toEqual([`API_KEY=${colour}-key`]);
    }
    const job = { project: 'exp', spec: { service: 'nmpi' } } as Job;
    expect(env.forJob(job)).toEqual(['API_KEY=blue-key']);
    h.store.services.setLiveColour(parent.id, 'green');
    expect(env.forJob(job)).toEqual(['API_KEY=green-key']);
  });
});
