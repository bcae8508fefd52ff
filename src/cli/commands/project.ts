import type { Command } from 'commander';
import { connect } from '../config.js';
import type { CliContext } from '../context.js';
import { examples, printJson } from '../output.js';

export function registerProject(program: Command, ctx: CliContext): void {
  const project = program
    .command('project')
    .description('Manage projects (needs the admin token)')
    .addHelpText('after', examples('BERTH_TOKEN=$ADMIN_TOKEN berth project create exp-2'));
  project
    .command('create')
    .description("Create a project and print its token (the token is shown only once)")
    .argument('<name>', 'a-z first, then a-z, 0-9, _ and -')
    .option('--json', 'print {"name", "token"}')
    .addHelpText('after', examples('BERTH_TOKEN=$ADMIN_TOKEN berth project create exp-2', 'berth login --url http://127.0.0.1:7070 --token "$(BERTH_TOKEN=$ADMIN_TOKEN berth project create exp-2)"'))
    .action(async (name: string, options: { json?: boolean }) => {
      const created = await (await connect(ctx)).createProject(name);
      if (options.json) printJson(ctx.stdout, created);
      // The bare token, so that $(berth project create x) captures exactly it.
      else ctx.stdout.write(`${created.token}\n`);
    });
}
