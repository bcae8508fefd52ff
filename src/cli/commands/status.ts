import type { Command } from 'commander';
import { connect } from '../config.js';
import type { CliContext } from '../context.js';
import { examples, printJson, styleFor } from '../output.js';
import { renderStatus } from '../status-report.js';

export function registerStatus(program: Command, ctx: CliContext): void {
  program
    .command('status')
    .description("Show a service's status: tasks, health, the current deployment and recent events")
    .argument('<name>', 'the service')
    .option('--json', 'print the status document as the API sends it')
    .option('--colour <name>', 'the status of this colour of the service')
    .addHelpText('after', examples('berth status web', "berth status web --json | jq '.status.tasks[].last_status'", 'berth status nmpi --colour green'))
    .action(async (name: string, options: { json?: boolean; colour?: string }) => {
      const doc = await (await connect(ctx)).getService(name, options.colour === undefined ? {} : { colour: options.colour });
      if (options.json) printJson(ctx.stdout, doc);
      else ctx.stdout.write(renderStatus(doc, styleFor(ctx)));
    });
}
