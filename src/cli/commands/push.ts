import type { Command } from 'commander';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '../config.js';
import type { CliContext } from '../context.js';
import { CliError, UsageError } from '../errors.js';
import { positiveNumber } from '../options.js';
import { examples } from '../output.js';

const DEFAULT_STEP_SECONDS = 3600;
const LOGIN_TIMEOUT_MS = 60_000;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

interface PushOptions {
  tag: string;
  timeout: number;
}

export function registerPush(program: Command, ctx: CliContext): void {
  program
    .command('push')
    .description("Build an image from a directory and push it to the service's repository")
    .argument('<name>', 'the service')
    .argument('[dir]', 'the build context, with a Dockerfile', '.')
    .option('--tag <tag>', 'the image tag; deploy it with --tag', 'latest')
    .option('--timeout <seconds>', 'bound on the build, and on the push', positiveNumber, DEFAULT_STEP_SECONDS)
    .addHelpText(
      'after',
      examples('berth push web ./web', 'berth push web . --tag 1.1.0 && berth deploy web --tag 1.1.0 --memory-reservation 100 --memory-limit 150 --port 80') +
        '\nThe login uses a throw-away docker config directory, so no credentials stay in ~/.docker.\n',
    )
    .action(async (name: string, dir: string, options: PushOptions) => {
      if (!TAG.test(options.tag)) throw new UsageError(`'${options.tag}' is not a Docker tag: letters, digits, '_', '.', '-', at most 128 characters`);
      if (!(await isDirectory(dir))) throw new UsageError(`'${dir}' is not a directory`);
      const creds = await (await connect(ctx)).dockerCredentials(name);
      const reference = `${creds.repo_uri}:${options.tag}`;
      const stepMs = options.timeout * 1000;
      ctx.stderr.write(`berth: building ${reference} from ${dir}\n`);
      await docker('build', ['build', '-t', reference, dir], stepMs);
      const config = await mkdtemp(join(tmpdir(), 'berth-push-'));
      try {
        ctx.stderr.write(`berth: logging in to ${creds.proxy_endpoint} (throw-away config ${config})\n`);
        await docker('login', ['--config', config, 'login', '--username', creds.user, '--password-stdin', creds.proxy_endpoint], LOGIN_TIMEOUT_MS, creds.password);
        ctx.stderr.write(`berth: pushing ${reference}\n`);
        await docker('push', ['--config', config, 'push', reference], stepMs);
      } finally {
        await rm(config, { recursive: true, force: true });
      }
      ctx.stdout.write(`Pushed ${reference}\nDeploy it with: berth deploy ${name} --tag ${options.tag} --memory-reservation MiB --memory-limit MiB --port N\n`);
    });
}

/** Runs docker with its output on the terminal (its own progress display); stdin carries the password for login. */
function docker(step: string, args: readonly string[], timeoutMs: number, stdin?: string): Promise<void> {
  const what = `docker ${step}`;
  return new Promise((resolve, reject) => {
    const child = spawn('docker', args, { stdio: [stdin === undefined ? 'ignore' : 'pipe', 'inherit', 'inherit'], timeout: timeoutMs, killSignal: 'SIGTERM' });
    if (stdin !== undefined) child.stdin?.end(stdin);
    child.on('error', (error: NodeJS.ErrnoException) => {
      reject(error.code === 'ENOENT' ? new CliError('BERTH_DOCKER_MISSING', "'docker' is not installed or not on PATH") : error);
    });
    child.on('close', (code, signal) => {
      if (code === 0) resolve();
      else if (signal !== null) reject(new CliError('BERTH_DOCKER_FAILED', `${what} was stopped (${signal}) after at most ${Math.round(timeoutMs / 1000)} s`));
      else reject(new CliError('BERTH_DOCKER_FAILED', `${what} failed with exit code ${code ?? '?'}`));
    });
  });
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}
