import { describe, expect, it } from 'vitest';
import { planUp, type ExistingStackService, type UpInput } from '../../src/domain/compose/plan-up.js';
import { readStack } from '../../src/domain/compose/read-stack.js';

const FILE = `services:
  web:
    image: kge-web
    build: ./web
    ports: ["8000:8000"]
    depends_on: [redis]
  worker:
    image: kge-web
    depends_on: [redis]
  redis:
    image: redis:alpine
  master:
    image: sip-master
    ports: ["12345:12345"]
  debug:
    image: busybox
    profiles: [debug]
  tools:
    image: busybox
    profiles: [debug]
    depends_on: [debug]
`;

function plan(more: Partial<UpInput> = {}) {
  const spec = readStack({ stack: 'kge', files: [{ name: 'compose.yaml', text: FILE }], environment: {}, attachments: {} });
  return planUp({
    project: 'p',
    stack: 'kge',
    spec,
    selection: { services: [], noDeps: false, profiles: [] },
    images: { web: 'reg:5000/p/kge-web@sha256:aa' },
    directory: '/srv/kge',
    policy: { hostPorts: { min: 12000, max: 12999 }, bindMountDirs: [] },
    existing: new Map(),
    ...more,
  });
}

const named = (p: ReturnType<typeof plan>) => p.services.map((s) => s.spec.composeName).sort();

describe('planUp', () => {
  it('starts every service whose profiles are active, with the built image where the file names it', () => {
    const p = plan();
    expect(named(p)).toEqual(['master', 'redis', 'web', 'worker']);
    expect(p.problems).toEqual([]);
    // worker names the image web builds: it runs what web pushed.
    expect(p.services.find((s) => s.spec.composeName === 'worker')?.definition.image).toBe('reg:5000/p/kge-web@sha256:aa');
    expect(p.services.find((s) => s.spec.composeName === 'redis')?.definition.image).toBe('redis:alpine');
  });

  it('replaces routed services start-first, and those with a host port or no route stop-first', () => {
    const strategies = Object.fromEntries(plan().services.map((s) => [s.spec.composeName, s.strategy]));
    expect(strategies).toEqual({ web: 'start-first', worker: 'stop-first', redis: 'stop-first', master: 'stop-first' });
  });

  it('publishes a port inside the host range there only, and says the others go through the gateway', () => {
    const p = plan();
    const master = p.services.find((s) => s.spec.composeName === 'master')?.definition;
    expect(master?.stack).toMatchObject({ routed: false, hostPorts: [{ target: 12345, published: 12345 }] });
    expect(p.warnings).toEqual([expect.stringMatching(/^web: host port 8000 → 8000 is not published .*gateway$/)]);
  });

  it('starts the services named and their dependencies, only those with noDeps', () => {
    expect(named(plan({ selection: { services: ['web'], noDeps: false, profiles: [] } }))).toEqual(['redis', 'web']);
    expect(named(plan({ selection: { services: ['web'], noDeps: true, profiles: [] } }))).toEqual(['web']);
  });

  it('starts a profile service when it is named or its profile is active, and refuses a dependency whose profile is not', () => {
    expect(named(plan({ selection: { services: [], noDeps: false, profiles: ['debug'] } }))).toEqual(['debug', 'master', 'redis', 'tools', 'web', 'worker']);
    expect(named(plan({ selection: { services: ['debug'], noDeps: false, profiles: [] } }))).toEqual(['debug']);
    const p = plan({ selection: { services: ['tools'], noDeps: false, profiles: [] } });
    expect(p.problems).toEqual([{ path: 'services.tools.depends_on', message: "'debug' is only in profiles debug; enable one with --profile" }]);
  });

  it('refuses a service that builds when no image was pushed for it, and an unknown service', () => {
    const p = plan({ images: {}, selection: { services: ['web', 'nope'], noDeps: true, profiles: [] } });
    expect(p.problems).toEqual([
      { path: 'services', message: "'nope' is no service of this file" },
      { path: 'services.web', message: 'builds its image: run berth compose build (or up --build) first' },
    ]);
  });

  it('leaves alone what did not change, starts what was stopped, deploys what changed, and names orphans', () => {
    const first = plan();
    const existing = new Map<string, ExistingStackService>(first.services.map((s) => [s.spec.name, { definition: s.definition, running: true }]));
    const redis = existing.get('kge-redis') as ExistingStackService;
    existing.set('kge-redis', { ...redis, running: false });
    const web = existing.get('kge-web') as ExistingStackService;
    existing.set('kge-web', { ...web, definition: { ...(web.definition as NonNullable<ExistingStackService['definition']>), replicas: 2 } });
    existing.set('kge-old', { definition: null, running: true });
    const again = plan({ existing });
    expect(Object.fromEntries(again.services.map((s) => [s.spec.composeName, s.action]))).toEqual({ web: 'update', worker: 'unchanged', redis: 'start', master: 'unchanged' });
    expect(again.orphans).toEqual(['kge-old']);
    expect(again.warnings.join('\n')).toMatch(/no longer in the file keep running: kge-old/);
  });

  it('refuses berth names longer than one DNS label', () => {
    const p = plan({ project: 'a'.repeat(56) });
    expect(p.problems.map((x) => x.path)).toContain('services.web');
    expect(p.problems[0]?.message).toMatch(/at most 63 fit in a DNS label/);
  });
});
