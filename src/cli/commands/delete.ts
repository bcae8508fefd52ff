import type { Command } from 'commander';
import { connect } from '../config.js';
import type { CliContext } from '../context.js';
import { examples, printJson } from '../output.js';
import { confirmOrRefuse } from '../prompt.js';

export function registerDelete(program: Command, ctx: CliContext): void {
  program
    .command('delete')
    .alias('rm')
    .description('Stop and remove a service: its tasks, route and image repository')
    .argument('<name>', 'the service')
    .option('-y, --yes', 'do not ask; needed when not on a terminal')
    .option('--json', 'print the API answer')
    .addHelpText('after', examples('berth delete web', 'berth delete web --yes'))
    .action(async (name: string, options: { yes?: boolean; json?: boolean }) => {
      await confirmOrRefuse(ctx, options.yes, `Delete service '${name}' with its tasks, route and image repository?`, `Not deleting '${name}' without --yes: nobody at a terminal can confirm`, `'${name}' was not deleted`);
      const answer = await (await connect(ctx)).deleteService(name);
      if (options.json) printJson(ctx.stdout, answer);
      else ctx.stdout.write(`Deleting ${answer.name}: its tasks stop and its route and repository go (status ${answer.status})\n`);
    });
}
