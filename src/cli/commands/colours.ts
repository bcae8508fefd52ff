import type { Command } from 'commander';
import { connect } from '../config.js';
import type { CliContext } from '../context.js';
import { positiveNumber } from '../options.js';
import { examples, printJson, styleFor } from '../output.js';
import { awaitDeployment, type WaitFlags } from './deploy.js';

const DEFAULT_WAIT_SECONDS = 900;

/** Blue/green releases (NMPI's deploy.py workflow): switch, terminate --colour, redeploy. */
export function registerColours(program: Command, ctx: CliContext): void {
  program
    .command('switch')
    .description("Move a service's live traffic to another colour at once, with no failed request; the colour left keeps running")
    .argument('<name>', 'the service')
    .argument('<colour>', 'the colour to make live')
    .option('--force', 'switch even when the colour has no healthy task')
    .option('--json', 'print {"name", "live_colour", "previous_colour", "switched", "took_ms"}')
    .addHelpText('after', examples('berth switch nmpi green', 'berth switch nmpi blue    # straight back'))
    .action(async (name: string, colour: string, options: { force?: boolean; json?: boolean }) => {
      const result = await (await connect(ctx)).switchColour(name, colour, options.force ? { force: true } : {});
      if (options.json) printJson(ctx.stdout, result);
      else if (!result.switched) ctx.stdout.write(`${name}: ${colour} is live already\n`);
      else {
        const style = styleFor(ctx);
        ctx.stdout.write(`${style.green('✓')} ${name}: ${colour} is live (was ${result.previous_colour}), switched in ${result.took_ms} ms; switch back with 'berth switch ${name} ${result.previous_colour}'\n`);
      }
    });

  program
    .command('terminate')
    .description('Remove one colour of a service that is not live: its tasks, revisions, events and logs')
    .argument('<name>', 'the service')
    .requiredOption('--colour <name>', 'the colour to remove')
    .option('--json', 'print the API answer')
    .addHelpText('after', examples('berth terminate nmpi --colour blue'))
    .action(async (name: string, options: { colour: string; json?: boolean }) => {
      const answer = await (await connect(ctx)).deleteService(name, { colour: options.colour });
      if (options.json) printJson(ctx.stdout, answer);
      else ctx.stdout.write(`Terminating ${name} colour ${options.colour}: its tasks stop, its revisions and logs go\n`);
    });

  program
    .command('redeploy')
    .description("Deploy what a service (or one colour) runs again as a new revision, pulling its tag again: after 'berth push NAME DIR --tag TAG'")
    .argument('<name>', 'the service')
    .option('--colour <name>', 'the colour to redeploy (needed for a service with colours)')
    .option('-d, --detach', 'print the revision and deployment id and return without waiting')
    .option('--timeout <seconds>', 'give up waiting after this long', positiveNumber, DEFAULT_WAIT_SECONDS)
    .option('--json', 'print {"name", "revision", "deployment"} (the finished deployment unless --detach); progress goes to stderr')
    .addHelpText('after', examples('berth push nmpi ./job_manager --tag green && berth redeploy nmpi --colour green'))
    .action(async (name: string, options: WaitFlags & { colour?: string }) => {
      const client = await connect(ctx);
      const started = await client.redeploy(name, options.colour === undefined ? {} : { colour: options.colour });
      await awaitDeployment(ctx, client, name, started, options);
    });
}
