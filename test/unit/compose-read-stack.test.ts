import { describe, expect, it } from 'vitest';
import { InvalidComposeError, type ComposeProblem } from '../../src/domain/compose/problems.js';
import { readStack, type StackInput } from '../../src/domain/compose/read-stack.js';

function stack(text: string, more: Partial<StackInput> = {}) {
  return readStack({ stack: 'kge', files: [{ name: 'docker-compose.yml', text }], environment: {}, attachments: {}, ...more });
}

function problems(text: string, more: Partial<StackInput> = {}): ComposeProblem[] {
  try {
    stack(text, more);
  } catch (error) {
    if (error instanceof InvalidComposeError) return [...error.problems];
    throw error;
  }
  throw new Error('expected the file to be refused');
}

const KGE = `
version: '2'
x-common: &common
  restart: always
  environment:
    - REDIS_HOST=redis
services:
  web:
    <<: *common
    build: ./web
    image: kge/web
    ports:
      - "6789:8000"
    depends_on:
      - redis
      - celery
    mem_limit: 256m
  celery:
    <<: *common
    build:
      context: ./worker
      dockerfile: Dockerfile.worker
      args:
        VERSION: \${VERSION:-1.0}
    command: celery worker -A kge --loglevel=info
    depends_on:
      redis:
        condition: service_healthy
  redis:
    image: redis:alpine
    healthcheck:
      test: ["CMD", "redis-cli", "ping"]
      interval: 2s
      timeout: 1s
      retries: 5
    volumes:
      - redis-data:/data
volumes:
  redis-data:
`;

describe('reading a compose file into a stack', () => {
  it('reads a v2 file with anchors, builds, healthchecks and dependencies, dependencies first', () => {
    const spec = stack(KGE);
    expect(spec.services.map((s) => s.composeName)).toEqual(['redis', 'celery', 'web']);
    const [redis, celery, web] = spec.services;
    expect(web).toMatchObject({
      name: 'kge-web',
      image: 'kge/web',
      build: { context: './web', dockerfile: null, args: {}, target: null },
      ports: [{ target: 8000, published: 6789, hostIp: null, protocol: 'tcp' }],
      restart: 'always',
      environment: [{ name: 'REDIS_HOST', value: 'redis' }],
      memoryLimitMiB: 256,
      memoryReservationMiB: 64,
      dependsOn: [
        { service: 'redis', condition: 'service_started' },
        { service: 'celery', condition: 'service_started' },
      ],
    });
    expect(celery).toMatchObject({
      command: ['celery', 'worker', '-A', 'kge', '--loglevel=info'],
      build: { context: './worker', dockerfile: 'Dockerfile.worker', args: { VERSION: '1.0' } },
      dependsOn: [{ service: 'redis', condition: 'service_healthy' }],
    });
    expect(redis).toMatchObject({
      healthcheck: { test: ['CMD', 'redis-cli', 'ping'], intervalSeconds: 2, timeoutSeconds: 1, retries: 5, startPeriodSeconds: 0 },
      mounts: [{ kind: 'volume', source: 'redis-data', target: '/data', readOnly: false }],
      restart: 'on-failure',
    });
    expect(spec.volumes).toEqual([{ key: 'redis-data', external: null }]);
    expect(spec.networks).toEqual([{ key: 'default', external: null }]);
  });

  it('reads sisock’s names and its external default network, in the legacy form too', () => {
    const spec = stack(`
services:
  sisock_crossbar:
    image: sisock_crossbar
    container_name: sisock_crossbar
    hostname: crossbar.local
  apex_weather_server:
    image: weather_server
    links: ["sisock_crossbar:crossbar"]
networks:
  default:
    external:
      name: sisock-net
`);
    expect(spec.networks).toEqual([{ key: 'default', external: 'sisock-net' }]);
    const crossbar = spec.services.find((s) => s.composeName === 'sisock_crossbar');
    expect(crossbar).toMatchObject({ name: 'kge-sisock-crossbar', hostname: 'crossbar.local' });
    expect(crossbar?.aliases).toEqual(['sisock_crossbar', 'kge-sisock-crossbar', 'crossbar.local']);
    expect(spec.services.map((s) => s.name)).toEqual(['kge-sisock-crossbar', 'kge-apex-weather-server']);
  });

  it('merges an override file over the base, as compose does', () => {
    const spec = readStack({
      stack: 's',
      files: [
        { name: 'base.yml', text: 'services:\n  web:\n    image: web:1\n    environment: {A: "1", B: "1"}\n    ports: ["80"]\n    command: serve\n' },
        { name: 'override.yml', text: 'services:\n  web:\n    environment: [B=2, C=3]\n    ports: ["8080:81"]\n    command: ["serve", "--debug"]\n' },
      ],
      environment: {},
      attachments: {},
    });
    expect(spec.services[0]).toMatchObject({
      environment: [{ name: 'A', value: '1' }, { name: 'B', value: '2' }, { name: 'C', value: '3' }],
      ports: [{ target: 80, published: null }, { target: 81, published: 8080 }],
      command: ['serve', '--debug'],
    });
  });

  it('takes env_file, secrets and configs from the files sent with it, and unset variables from the environment', () => {
    const spec = stack(
      `
services:
  web:
    image: web:1
    env_file: web.env
    environment: [FROM_SHELL, OVERRIDE=mine]
    secrets: [db_password]
    configs: [{source: site, target: /etc/site.conf}]
secrets:
  db_password: {file: ./pw.txt}
configs:
  site: {file: ./site.conf}
`,
      { environment: { FROM_SHELL: 'shell' }, attachments: { 'web.env': 'A=1\nOVERRIDE=file\n', './pw.txt': 's3cret', './site.conf': 'x' } },
    );
    expect(spec.services[0]?.environment).toEqual([
      { name: 'A', value: '1' },
      { name: 'OVERRIDE', value: 'mine' },
      { name: 'FROM_SHELL', value: 'shell' },
    ]);
    expect(spec.services[0]?.secrets).toEqual([{ name: 'db_password', source: 'db_password', target: '/run/secrets/db_password' }]);
    expect(spec.services[0]?.configs).toEqual([{ name: 'site', source: 'site', target: '/etc/site.conf' }]);
  });

  it('reads every port form: host IP, random host port, ranges, long syntax', () => {
    const spec = stack('services:\n  web:\n    image: w\n    ports: ["127.0.0.1:3000:3000", ":9000", "7000-7001:8000-8001/udp", {target: 80, published: 8080, host_ip: 0.0.0.0}]\n    expose: ["9100", 9200]\n');
    expect(spec.services[0]?.ports).toEqual([
      { target: 3000, published: 3000, hostIp: '127.0.0.1', protocol: 'tcp' },
      { target: 9000, published: 0, hostIp: null, protocol: 'tcp' },
      { target: 8000, published: 7000, hostIp: null, protocol: 'udp' },
      { target: 8001, published: 7001, hostIp: null, protocol: 'udp' },
      { target: 80, published: 8080, hostIp: '0.0.0.0', protocol: 'tcp' },
    ]);
    expect(spec.services[0]?.expose).toEqual([9100, 9200]);
  });
});

describe('placement', () => {
  it("reads deploy.placement.constraints as Swarm writes them, for the service's tasks", () => {
    const spec = stack('services:\n  web:\n    image: w\n    deploy:\n      placement:\n        constraints: ["node.labels.gpu == yes", node.role!=manager]\n');
    expect(spec.services[0]?.constraints).toEqual(['node.labels.gpu==yes', 'node.role!=manager']);
  });
});

describe('refusing what berth cannot run, every problem at once with its path', () => {
  it('refuses unsafe keys, saying why', () => {
    const found = problems('services:\n  web:\n    image: w\n    privileged: true\n    network_mode: host\n    pid: host\n    devices: ["/dev/kmsg"]\n    cap_add: [NET_ADMIN]\n');
    expect(found.map((p) => p.path)).toEqual(['services.web.privileged', 'services.web.network_mode', 'services.web.pid', 'services.web.devices', 'services.web.cap_add']);
    expect(found[0]?.message).toMatch(/refused: a privileged task could take over the host/);
    expect(found[1]?.message).toMatch(/bypass the gateway/);
  });

  it('lists schema problems with their path, file and line', () => {
    const found = problems('services:\n  web:\n    image: w\n    ports:\n      - target: nope\n    bogus: 1\n');
    expect(found).toEqual([
      { path: 'services.web', message: "must NOT have additional properties 'bogus'", file: 'docker-compose.yml', line: 3 },
      { path: 'services.web.ports[0].target', message: 'must be integer', file: 'docker-compose.yml', line: 5 },
    ]);
  });

  it('reports YAML syntax errors with their line', () => {
    const [problem] = problems('services:\n  web:\n    image: [w\n');
    expect(problem).toMatchObject({ path: '(yaml)', file: 'docker-compose.yml', line: expect.any(Number) });
  });

  it('refuses unknown dependencies, cycles, undeclared networks and volumes, and colliding names', () => {
    const found = problems(`
services:
  a:
    image: a
    depends_on: [b, ghost]
    networks: [backend]
    volumes: [data:/data]
  b:
    image: b
    depends_on: [a]
  my_app:
    image: c
  my.app:
    image: d
`);
    const text = found.map((p) => `${p.path}: ${p.message}`);
    expect(text).toEqual(
      expect.arrayContaining([
        "services.a.depends_on: 'ghost' is no service of this file",
        "services.a.networks: 'backend' is not declared under the top-level networks",
        "services.a.volumes: 'data' is not declared under the top-level volumes",
        "services.my.app: 'my.app' and 'my_app' both become berth's service 'kge-my-app'; rename one",
      ]),
    );
    expect(text.some((t) => /dependency cycle: a → b → a/.test(t))).toBe(true);
  });

  it('refuses a required variable that is not set, and a port out of range', () => {
    const found = problems('services:\n  web:\n    image: ${IMAGE:?set IMAGE to the image to run}\n    ports: ["70000:80"]\n');
    expect(found.map((p) => p.message)).toEqual(
      expect.arrayContaining(['required variable IMAGE is not set: set IMAGE to the image to run', 'host port 70000 is out of range 1-65535']),
    );
  });

  it('refuses logging drivers and keys it would otherwise drop', () => {
    const found = problems('services:\n  web:\n    image: w\n    tty: true\n    logging: {driver: syslog}\n    deploy: {placement: {preferences: [{spread: node.labels.zone}], constraints: [node.colour=blue]}}\n');
    expect(found.map((p) => p.path).sort()).toEqual([
      'services.web.deploy.placement.constraints[0]',
      'services.web.deploy.placement.preferences',
      'services.web.logging.driver',
      'services.web.tty',
    ]);
  });
});
