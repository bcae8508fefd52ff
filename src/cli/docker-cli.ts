import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CliError } from './errors.js';

const LOGIN_TIMEOUT_MS = 60_000;
const INSPECT_TIMEOUT_MS = 30_000;

/** What `?view=docker` and a stack's credentials give: a repository and a login scoped to it. */
export interface PushCredentials {
  readonly repo_uri: string;
  readonly proxy_endpoint: string;
  readonly user: string;
  readonly password: string;
}

/** Runs docker with its output on the terminal (its own progress display); stdin carries the password for login. */
export function docker(step: string, args: readonly string[], timeoutMs: number, stdin?: string): Promise<void> {
  return run(step, args, timeoutMs, stdin, 'inherit').then(() => undefined);
}

/** Runs docker and answers what it printed; null when it failed (an image that is not there, say). */
export async function dockerOutput(args: readonly string[]): Promise<string | null> {
  try {
    return await run(args[0] ?? 'docker', args, INSPECT_TIMEOUT_MS, undefined, 'pipe');
  } catch (error) {
    if (error instanceof CliError && error.code === 'BERTH_DOCKER_FAILED') return null;
    throw error;
  }
}

/**
 * Pushes an image with a login scoped to its repository, in a throw-away docker config
 * directory, so no credentials stay in ~/.docker. Answers the pushed image by digest.
 */
export async function pushWithCredentials(reference: string, creds: PushCredentials, timeoutMs: number, log: (line: string) => void): Promise<string> {
  const config = await mkdtemp(join(tmpdir(), 'berth-push-'));
  try {
    log(`logging in to ${creds.proxy_endpoint} (throw-away config ${config})`);
    await docker('login', ['--config', config, 'login', '--username', creds.user, '--password-stdin', creds.proxy_endpoint], LOGIN_TIMEOUT_MS, creds.password);
    log(`pushing ${reference}`);
    await docker('push', ['--config', config, 'push', reference], timeoutMs);
  } finally {
    await rm(config, { recursive: true, force: true });
  }
  const digests = await dockerOutput(['image', 'inspect', '--format', '{{json .RepoDigests}}', reference]);
  const digest = (JSON.parse(digests ?? '[]') as string[]).find((d) => d.startsWith(`${creds.repo_uri}@`));
  if (!digest) throw new CliError('BERTH_DOCKER_FAILED', `docker pushed ${reference} but reports no digest for it in ${creds.repo_uri}`);
  return digest;
}

function run(step: string, args: readonly string[], timeoutMs: number, stdin: string | undefined, output: 'inherit' | 'pipe'): Promise<string> {
  const what = `docker ${step}`;
  return new Promise((resolve, reject) => {
    const child = spawn('docker', args, { stdio: [stdin === undefined ? 'ignore' : 'pipe', output, output === 'pipe' ? 'pipe' : 'inherit'], timeout: timeoutMs, killSignal: 'SIGTERM' });
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.stderr?.resume();
    if (stdin !== undefined) child.stdin?.end(stdin);
    child.on('error', (error: NodeJS.ErrnoException) => {
      reject(error.code === 'ENOENT' ? new CliError('BERTH_DOCKER_MISSING', "'docker' is not installed or not on PATH") : error);
    });
    child.on('close', (code, signal) => {
      if (code === 0) resolve(out.trim());
      else if (signal !== null) reject(new CliError('BERTH_DOCKER_FAILED', `${what} was stopped (${signal}) after at most ${Math.round(timeoutMs / 1000)} s`));
      else reject(new CliError('BERTH_DOCKER_FAILED', `${what} failed with exit code ${code ?? '?'}`));
    });
  });
}
