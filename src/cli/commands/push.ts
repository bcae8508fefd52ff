import type { Command } from 'commander';
import { stat } from 'node:fs/promises';
import { connect } from '../config.js';
import type { CliContext } from '../context.js';
import { docker, pushWithCredentials } from '../docker-cli.js';
import { UsageError } from '../errors.js';
import { positiveNumber } from '../options.js';
import { examples } from '../output.js';

const DEFAULT_STEP_SECONDS = 3600;
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
      await pushWithCredentials(reference, creds, stepMs, (line) => ctx.stderr.write(`berth: ${line}\n`));
      ctx.stdout.write(`Pushed ${reference}\nDeploy it with: berth deploy ${name} --tag ${options.tag} --memory-reservation MiB --memory-limit MiB --port N\n`);
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
