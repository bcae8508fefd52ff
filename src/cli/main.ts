import { Command, CommanderError } from 'commander';
import { BerthClientError } from '../client/index.js';
import { BerthError } from '../domain/errors.js';
import { registerAudit } from './commands/audit.js';
import { registerCerts } from './commands/certs.js';
import { registerColours } from './commands/colours.js';
import { registerCompose } from './commands/compose/index.js';
import { registerCreate } from './commands/create.js';
import { registerDb } from './commands/db.js';
import { registerCredentials } from './commands/credentials.js';
import { registerDelete } from './commands/delete.js';
import { registerDeploy } from './commands/deploy.js';
import { registerEvents } from './commands/events.js';
import { registerJobs } from './commands/jobs.js';
import { registerLogin } from './commands/login.js';
import { registerLogs } from './commands/logs.js';
import { registerLs } from './commands/ls.js';
import { registerNodes } from './commands/nodes.js';
import { registerProject } from './commands/project.js';
import { registerResources } from './commands/resources.js';
import { registerPush } from './commands/push.js';
import { registerRun } from './commands/run.js';
import { registerServices } from './commands/services.js';
import { registerStatus } from './commands/status.js';
import { processContext, type CliContext } from './context.js';
import { CliError, EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from './errors.js';
import { examples } from './output.js';
import { registerServerCommand } from './server-command.js';

export function buildProgram(ctx: CliContext): Command {
  const program = new Command('berth')
    .description('Deploy and run small HTTP services on Docker')
    .addHelpText(
      'after',
      examples('berth login --url http://127.0.0.1:7070 --token "$TOKEN"', 'berth create web && berth push web ./web && berth deploy web --tag latest --memory-reservation 100 --memory-limit 150 --port 80') +
        "\nThe server and token come from 'berth login', or BERTH_URL and BERTH_TOKEN.\nRun 'berth COMMAND --help' for a command's flags and examples.\n",
    )
    // Set before adding commands: subcommands copy these settings when they are created.
    .exitOverride()
    .configureOutput({
      writeOut: (text) => ctx.stdout.write(text),
      writeErr: (text) => ctx.stderr.write(text),
      // One line naming the code, like every other error; --help has the details.
      outputError: (text, write) => write(`berth: BERTH_USAGE: ${text.replace(/^error:\s*/, '').trim()} (see --help)\n`),
    });
  registerLogin(program, ctx);
  registerProject(program, ctx);
  registerLs(program, ctx);
  registerServices(program, ctx);
  registerCreate(program, ctx);
  registerDeploy(program, ctx);
  registerStatus(program, ctx);
  registerLogs(program, ctx);
  registerEvents(program, ctx);
  registerDelete(program, ctx);
  registerColours(program, ctx);
  registerCredentials(program, ctx);
  registerPush(program, ctx);
  registerRun(program, ctx);
  registerJobs(program, ctx);
  registerAudit(program, ctx);
  registerCerts(program, ctx);
  registerNodes(program, ctx);
  registerCompose(program, ctx);
  registerResources(program, ctx);
  registerDb(program, ctx);
  registerServerCommand(program);
  return program;
}

/** Runs one command line; answers the exit code. Errors end as one `berth: CODE: message` line on stderr. */
export async function runCli(ctx: CliContext): Promise<number> {
  try {
    await buildProgram(ctx).parseAsync([...ctx.argv], { from: 'user' });
    return EXIT_OK;
  } catch (error) {
    // Commander has already printed its message (or the help).
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    ctx.stderr.write(`berth: ${describe(error)}\n`);
    return exitCodeFor(error);
  }
}

export async function main(): Promise<void> {
  process.exitCode = await runCli(processContext());
}

function exitCodeFor(error: unknown): number {
  if (error instanceof CliError) return error.exitCode;
  if (error instanceof BerthError && error.code === 'BERTH_CONFIG_INVALID') return EXIT_USAGE;
  return EXIT_FAILURE;
}

function describe(error: unknown): string {
  if (error instanceof CliError || error instanceof BerthClientError || error instanceof BerthError) return `${error.code}: ${oneLine(error.message)}`;
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    return `${typeof code === 'string' ? code : 'BERTH_ERROR'}: ${oneLine(error.message)}`;
  }
  return `BERTH_ERROR: ${oneLine(String(error))}`;
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}
