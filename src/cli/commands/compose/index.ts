import type { Command } from 'commander';
import { BerthApiError } from '../../../client/index.js';
import { InvalidComposeError, describeProblem } from '../../../domain/compose/problems.js';
import { connect } from '../../config.js';
import type { CliContext } from '../../context.js';
import { CliError } from '../../errors.js';
import { collect, positiveNumber } from '../../options.js';
import { examples, printJson } from '../../output.js';
import { buildAndPush } from './build.js';
import { registerExec } from './exec.js';
import { stackLogs, waitForStack } from './follow.js';
import { registerLifecycle } from './lifecycle.js';
import type { ComposeOptions, ComposeProject } from './project.js';

const DEFAULT_WAIT_SECONDS = 900;

interface UpOptions {
  detach?: boolean;
  build?: boolean;
  deps?: boolean;
  removeOrphans?: boolean;
  wait?: number;
}

/** `berth compose`: docker compose's workflow against berth (DESIGN.md "Stacks"). */
export function registerCompose(program: Command, ctx: CliContext): void {
  const compose = program
    .command('compose')
    .description("Run a compose file's stack on berth, with docker compose's commands")
    .option('-f, --file <file>', 'a compose file; repeat to merge an override over a base', collect)
    .option('-p, --project-name <name>', "the stack's name (default: the file's directory's)")
    .option('--env-file <file>', 'variables for interpolation instead of .env; repeat for more', collect)
    .option('--profile <name>', 'also start services of this profile; repeat for more', collect)
    // compose's options come before the command; a command's own after its service are the task's (exec, run).
    .enablePositionalOptions()
    .addHelpText(
      'after',
      examples('berth compose up -d', 'berth compose -f docker-compose.yml -f docker-compose.prod.yml up -d web', 'berth compose ps', 'berth compose logs -f worker', 'berth compose down -v') +
        '\nThe stack runs on the berth server; its routed services are at <public-url>/<project>-<stack>-<service>/.\n',
    );

  compose
    .command('config')
    .description('Check the files as the server reads them and print the merged file; change nothing')
    .addHelpText('after', examples("berth compose config", "berth compose -f base.yml -f override.yml config --json"))
    .option('--json', 'print the merged file and what up would do as JSON')
    .action(async (options: { json?: boolean }, command: Command) => {
      const project = await projectOf(ctx, command);
      const client = await connect(ctx);
      const result = await withProblems(() => client.stacks.up(project.stack, upBody(project, {}, {}), { dryRun: true }));
      if (options.json) printJson(ctx.stdout, result);
      else ctx.stdout.write((await import('yaml')).stringify(result.config));
      for (const warning of result.warnings) ctx.stderr.write(`berth: warning: ${warning}\n`);
    });

  compose
    .command('build')
    .description("Build the services that have 'build' with the local engine and push them to the stack's repositories")
    .addHelpText('after', examples("berth compose build", "berth compose build web worker"))
    .argument('[service...]', 'only these')
    .action(async (services: string[], _options: unknown, command: Command) => {
      const project = await projectOf(ctx, command);
      await buildAndPush(ctx, await connect(ctx), project, services, true);
    });

  compose
    .command('up')
    .description('Create or update the stack: only what changed is redeployed, routed services with no failed request')
    .addHelpText('after', examples("berth compose up -d", "berth compose up -d grafana sisock-http", "berth compose up -d --build --remove-orphans"))
    .argument('[service...]', 'start only these and their dependencies')
    .option('-d, --detach', 'return once every deployment has finished, without following the logs')
    .option('--build', 'build images before starting, even those the engine has')
    .option('--no-deps', 'start only the services named, not their dependencies')
    .option('--remove-orphans', 'remove services the file no longer has')
    .option('--wait <seconds>', `bound on the wait for deployments (default ${DEFAULT_WAIT_SECONDS})`, positiveNumber)
    .action(async (services: string[], options: UpOptions, command: Command) => {
      const project = await projectOf(ctx, command);
      const client = await connect(ctx);
      const images = await buildAndPush(ctx, client, project, [], options.build === true);
      const result = await withProblems(() => client.stacks.up(project.stack, upBody(project, images, { services, noDeps: options.deps === false, removeOrphans: options.removeOrphans })));
      for (const warning of result.warnings) ctx.stderr.write(`berth: warning: ${warning}\n`);
      for (const s of result.services) ctx.stderr.write(`${s.name}: ${s.action}${s.url ? ` (${s.url})` : ''}\n`);
      for (const removed of result.removed) ctx.stderr.write(`${removed}: removed\n`);
      const failed = await waitForStack(ctx, client, project.stack, result.deployment, (options.wait ?? DEFAULT_WAIT_SECONDS) * 1000);
      if (failed.length > 0) throw new CliError('BERTH_DEPLOYMENT_FAILED', `${failed.join(', ')} failed to deploy; the others run`);
      if (options.detach) return;
      ctx.stderr.write("berth: following the logs; Ctrl-C stops following and leaves the stack running (unlike compose, berth keeps it up; 'berth compose down' removes it)\n");
      await stackLogs(ctx, client, await client.stacks.get(project.stack), services, { follow: true, tail: 20 });
    });

  registerLifecycle(compose, ctx, projectOf);
  registerExec(compose, ctx, projectOf);
}

/**
 * The compose project, with the options given before the subcommand. The reader (YAML, the
 * Compose schema's checks) is loaded only by the compose commands: it doubled every other
 * command's start.
 */
async function projectOf(ctx: CliContext, command: Command): Promise<ComposeProject> {
  const options = command.optsWithGlobals<ComposeOptions>();
  const { readComposeProject } = await import('./project.js');
  return withProblems(() => readComposeProject(ctx, options));
}

function upBody(project: ComposeProject, images: Record<string, string>, selection: { services?: string[]; noDeps?: boolean; removeOrphans?: boolean | undefined }) {
  return {
    files: project.files.map((f) => ({ name: f.name, text: f.text })),
    environment: { ...project.environment },
    attachments: { ...project.attachments },
    directory: project.directory,
    profiles: [...project.profiles],
    images,
    ...(selection.services && selection.services.length > 0 ? { services: selection.services } : {}),
    ...(selection.noDeps ? { no_deps: true } : {}),
    ...(selection.removeOrphans ? { remove_orphans: true } : {}),
  };
}

/** A refused compose file: every problem on its own line, as the server or the local check found them. */
async function withProblems<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    const problems = error instanceof InvalidComposeError ? error.problems : error instanceof BerthApiError ? error.problems : [];
    if (problems.length === 0) throw error;
    const lines = problems.map((p) => `  ${describeProblem(p)}`).join('\n');
    throw new CliError('BERTH_INVALID_COMPOSE', `the compose file has ${problems.length} problem${problems.length > 1 ? 's' : ''}:\n${lines}`);
  }
}

export type ProjectReader = typeof projectOf;
