import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installErrorHandling } from '../../src/api/error-handler.js';
import { CredentialStore } from '../../src/registry/credential-store.js';
import { RegistryService, type PullAuth } from '../../src/registry/registry-service.js';
import { registryTokenRoutes } from '../../src/registry/routes.js';
import { openDatabase, type Db } from '../../src/store/database.js';

const REGISTRY_PORT = 19500;
const API_PORT = 19501;
const ADDRESS = `127.0.0.1:${REGISTRY_PORT}`;
const COMMAND_TIMEOUT_MS = 90_000;
/** Incompressible, so the pushed layer is about this big and its removal shows in the storage size. */
const PAYLOAD_BYTES = 6 * 1024 * 1024;

interface Result {
  readonly code: number;
  readonly output: string;
}

/** Runs the docker CLI against a private DOCKER_CONFIG, so ~/.docker is never touched. */
function docker(dockerConfig: string, args: readonly string[], stdin?: string): Promise<Result> {
  return new Promise((resolve) => {
    const child = execFile(
      'docker',
      args,
      { env: { ...process.env, DOCKER_CONFIG: dockerConfig }, timeout: COMMAND_TIMEOUT_MS },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, output: `${stdout}${stderr}` });
      },
    );
    child.stdin?.end(stdin ?? '');
  });
}

/** `docker import` of a directory: the only way to an image here, since nothing can be pulled. */
async function importImage(dockerConfig: string, rootfs: string, reference: string): Promise<void> {
  const tarball = `${rootfs}.tar`;
  await new Promise<void>((resolve, reject) =>
    execFile('tar', ['-C', rootfs, '-cf', tarball, '.'], (error) => (error ? reject(error) : resolve())),
  );
  expect((await docker(dockerConfig, ['import', tarball, reference])).code).toBe(0);
}

async function du(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    total += entry.isDirectory() ? await du(path) : (await stat(path)).size;
  }
  return total;
}

function addService(db: Db, project: string, name: string): number {
  db.prepare('INSERT OR IGNORE INTO projects (name, created_at) VALUES (?, ?)').run(project, Date.now());
  const info = db
    .prepare("INSERT INTO services (project, name, health_check, status, created_at) VALUES (?, ?, '{}', 'INACTIVE', ?)")
    .run(project, name, Date.now());
  return Number(info.lastInsertRowid);
}

describe('registry with berth token auth', () => {
  const suffix = randomBytes(4).toString('hex');
  const image = `berth-test/registry-${suffix}:base`;
  const engine = new Docker();
  let work: string;
  let dockerConfig: string;
  let db: Db;
  let app: FastifyInstance;
  let registry: RegistryService;
  let webId: number;
  let apiId: number;

  async function login(config: string, user: string, password: string): Promise<Result> {
    return docker(config, ['login', '--username', user, '--password-stdin', ADDRESS], password);
  }

  /** Tags the test image as `reference` and pushes it; the local tag is removed again. */
  async function push(config: string, reference: string): Promise<Result> {
    expect((await docker(config, ['tag', image, reference])).code).toBe(0);
    try {
      return await docker(config, ['push', reference]);
    } finally {
      await docker(config, ['rmi', reference]);
    }
  }

  async function enginePull(reference: string, auth: PullAuth): Promise<string | null> {
    const stream = (await engine.pull(reference, { authconfig: auth })) as NodeJS.ReadableStream;
    const output = await new Promise<{ error?: string }[]>((resolve, reject) => {
      engine.modem.followProgress(stream, (error: Error | null, result: { error?: string }[]) =>
        error ? reject(error) : resolve(result),
      );
    });
    return output.find((line) => line.error)?.error ?? null;
  }

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'berth-registry-'));
    dockerConfig = join(work, 'docker-config');
    await mkdir(dockerConfig);

    const rootfs = join(work, 'rootfs');
    await mkdir(join(rootfs, 'bin'), { recursive: true });
    await copyFile('/usr/bin/busybox', join(rootfs, 'bin', 'busybox'));
    await writeFile(join(rootfs, 'payload'), randomBytes(PAYLOAD_BYTES));
    await importImage(dockerConfig, rootfs, image);

    db = openDatabase(join(work, 'berth.db'));
    webId = addService(db, 'exp', 'web');
    apiId = addService(db, 'exp', 'api');

    registry = await RegistryService.create({
      db,
      dataDir: join(work, 'data'),
      listen: { host: '127.0.0.1', port: REGISTRY_PORT },
      apiBaseUrl: `http://127.0.0.1:${API_PORT}`,
    });
    app = Fastify();
    installErrorHandling(app);
    await app.register(registryTokenRoutes, registry.tokenRoutes);
    await app.listen({ host: '127.0.0.1', port: API_PORT });
    await registry.start();
  });

  afterAll(async () => {
    const pid = registry?.pid() ?? null;
    await registry?.stop();
    await app?.close();
    db?.close();
    await docker(dockerConfig, ['rmi', image]);
    // Tests remove what they tag; anything still here leaked, and is reported after it is removed.
    const { output } = await docker(dockerConfig, ['images', '--format', '{{.Repository}}:{{.Tag}}']);
    const leftovers = output.split('\n').filter((line) => line.includes(suffix) || line.startsWith(`${ADDRESS}/`));
    for (const reference of leftovers) await docker(dockerConfig, ['rmi', '--force', reference]);
    await rm(work, { recursive: true, force: true });
    expect(leftovers).toEqual([]);
    if (pid !== null) expect(() => process.kill(pid, 0)).toThrow();
  });

  it('hands out credentials docker login accepts, without storing the password', async () => {
    const creds = registry.credentialsFor('exp', 'web', webId);
    expect(creds).toMatchObject({
      repo_uri: `${ADDRESS}/exp/web`,
      proxy_endpoint: ADDRESS,
      user: expect.stringMatching(/^svc-/),
    });
    const result = await login(dockerConfig, creds.user, creds.password);
    expect(result.output).toContain('Login Succeeded');
    const stored = JSON.stringify(db.prepare('SELECT * FROM registry_credentials').all());
    expect(stored).not.toContain(creds.password);
  });

  it('pushes to the service repository, over plain HTTP on the loopback', async () => {
    const creds = registry.credentialsFor('exp', 'web', webId);
    expect((await login(dockerConfig, creds.user, creds.password)).code).toBe(0);
    const result = await push(dockerConfig, `${creds.repo_uri}:v1`);
    expect(result.output).toMatch(/v1: digest: sha256:/);
    expect(await registry.tagExists('exp/web', 'v1')).toBe(true);
    expect(await registry.tagExists('exp/web', 'v2')).toBe(false);
    expect(await registry.listTags('exp', 'web')).toEqual(['v1']);
  });

  it('refuses pushes and pulls of another service’s repository', async () => {
    const api = registry.credentialsFor('exp', 'api', apiId);
    expect((await login(dockerConfig, api.user, api.password)).code).toBe(0);
    expect((await push(dockerConfig, `${api.repo_uri}:v1`)).code).toBe(0);

    const web = registry.credentialsFor('exp', 'web', webId);
    expect((await login(dockerConfig, web.user, web.password)).code).toBe(0);
    const pushed = await push(dockerConfig, `${api.repo_uri}:intruder`);
    expect(pushed.code).not.toBe(0);
    expect(pushed.output).toMatch(/denied|unauthorized/i);
    expect(await registry.tagExists('exp/api', 'intruder')).toBe(false);

    const pulled = await docker(dockerConfig, ['pull', `${api.repo_uri}:v1`]);
    expect(pulled.code).not.toBe(0);
    expect(pulled.output).toMatch(/denied|unauthorized/i);
  });

  it('fails a login with a wrong password and stores nothing', async () => {
    const config = await mkdtemp(join(work, 'docker-config-'));
    const creds = registry.credentialsFor('exp', 'web', webId);
    const result = await login(config, creds.user, `${creds.password}x`);
    expect(result.code).not.toBe(0);
    expect(result.output).toMatch(/unauthorized|401/i);
    const configFile = await readFile(join(config, 'config.json'), 'utf8').catch(() => '{}');
    expect(JSON.parse(configFile)).not.toHaveProperty(['auths', ADDRESS]);
  });

  it('refuses expired credentials', async () => {
    const issued = new CredentialStore(db).issue(webId, 1);
    await new Promise((resolve) => setTimeout(resolve, 5));
    const config = await mkdtemp(join(work, 'docker-config-'));
    expect((await login(config, issued.user, issued.password)).code).not.toBe(0);
  });

  it('lets the engine pull with pull auth, for that repository only', async () => {
    await docker(dockerConfig, ['rmi', `${ADDRESS}/exp/web:v1`]);
    expect(await enginePull(`${ADDRESS}/exp/web:v1`, registry.pullAuth('exp/web'))).toBeNull();
    expect((await docker(dockerConfig, ['rmi', `${ADDRESS}/exp/web:v1`])).code).toBe(0);

    const webAuth = registry.pullAuth('exp/web');
    const wrongRepo = await enginePull(`${ADDRESS}/exp/api:v1`, webAuth).catch((e: Error) => e.message);
    expect(wrongRepo).toMatch(/denied|unauthorized/i);
    const forged = { ...registry.pullAuth('exp/api'), password: 'forged.ticket' };
    const refused = await enginePull(`${ADDRESS}/exp/api:v1`, forged).catch((e: Error) => e.message);
    expect(refused).toMatch(/denied|unauthorized|401/i);
  });

  it('deletes a repository: credentials end, tags go, storage shrinks, other repositories stay', async () => {
    const storage = join(work, 'data', 'registry', 'storage');
    const creds = registry.credentialsFor('exp', 'web', webId);
    expect((await login(dockerConfig, creds.user, creds.password)).code).toBe(0);
    // A second tag on the same manifest: deleting by digest must not trip over it.
    expect((await push(dockerConfig, `${creds.repo_uri}:latest`)).code).toBe(0);
    // Its own layer, so that deleting exp/web frees something exp/api does not share.
    await writeFile(join(work, 'rootfs', 'payload'), randomBytes(PAYLOAD_BYTES));
    const own = `berth-test/registry-${suffix}:own`;
    await importImage(dockerConfig, join(work, 'rootfs'), own);
    expect((await docker(dockerConfig, ['tag', own, `${creds.repo_uri}:own`])).code).toBe(0);
    expect((await docker(dockerConfig, ['push', `${creds.repo_uri}:own`])).code).toBe(0);
    await docker(dockerConfig, ['rmi', own, `${creds.repo_uri}:own`]);

    const pidBefore = registry.pid();
    const before = await du(storage);
    await registry.deleteRepository('exp', 'web', webId);
    const after = await du(storage);

    expect(before - after).toBeGreaterThan(PAYLOAD_BYTES);
    expect(registry.pid()).not.toBe(pidBefore);
    expect(await registry.listTags('exp', 'web')).toEqual([]);
    expect(await registry.tagExists('exp/web', 'v1')).toBe(false);
    expect(await registry.tagExists('exp/api', 'v1')).toBe(true);
    const config = await mkdtemp(join(work, 'docker-config-'));
    expect((await login(config, creds.user, creds.password)).code).not.toBe(0);
  });

  it('deletes a repository that never had an image without stopping the registry', async () => {
    const emptyId = addService(db, 'exp', 'empty');
    const pid = registry.pid();
    await registry.deleteRepository('exp', 'empty', emptyId);
    expect(registry.pid()).toBe(pid);
  });

  it('leaves the registry running on detach, and adopts it on the next start', async () => {
    const pid = registry.pid();
    await registry.detach();
    expect(() => process.kill(pid ?? -1, 0)).not.toThrow();
    await registry.start();
    expect(registry.pid()).toBe(pid);
    expect(await registry.tagExists('exp/api', 'v1')).toBe(true);
  });

  it('restarts an adopted registry whose config changed', async () => {
    const pid = registry.pid();
    await registry.detach();
    registry = await RegistryService.create({
      db,
      dataDir: join(work, 'data'),
      listen: { host: '127.0.0.1', port: REGISTRY_PORT },
      apiBaseUrl: `http://localhost:${API_PORT}/`,
    });
    await registry.start();
    expect(registry.pid()).not.toBe(pid);
    expect(() => process.kill(pid ?? -1, 0)).toThrow();
    const config = await readFile(join(work, 'data', 'registry', 'config.yml'), 'utf8');
    expect(config).toContain(`realm: "http://localhost:${API_PORT}/registry/token"`);
    const creds = registry.credentialsFor('exp', 'api', apiId);
    expect((await login(await mkdtemp(join(work, 'docker-config-')), creds.user, creds.password)).code).toBe(0);
  });
});
