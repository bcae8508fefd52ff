import type { Command } from 'commander';
import { connect } from '../config.js';
import type { CliContext } from '../context.js';
import { examples, printJson, shortTime, styleFor, table } from '../output.js';

/** `berth network|volume create|ls|rm`: a project's own networks and volumes, for stacks to use as external. */
export function registerResources(program: Command, ctx: CliContext): void {
  for (const kind of ['network', 'volume'] as const) {
    const group = program.command(kind).description(`The project's own ${kind}s, which stacks use as external`);
    group
      .command('create')
      .description(`Make a ${kind} (docker ${kind} create)`)
      .argument('<name>', `the ${kind}'s name`)
      .addHelpText('after', examples(`berth ${kind} create ${kind === 'network' ? 'sisock-net' : 'kge-data'}`))
      .action(async (name: string) => {
        const client = await connect(ctx);
        await (kind === 'network' ? client.stacks.createNetwork(name) : client.stacks.createVolume(name));
        ctx.stdout.write(`${name}\n`);
      });
    group
      .command('ls')
      .description(`The project's ${kind}s and the stacks that use them`)
      .option('--json', 'print the list as the API sends it')
      .addHelpText('after', examples(`berth ${kind} ls`))
      .action(async (options: { json?: boolean }) => {
        const client = await connect(ctx);
        const list = await (kind === 'network' ? client.stacks.networks() : client.stacks.volumes());
        if (options.json) return printJson(ctx.stdout, list);
        ctx.stdout.write(table(['NAME', 'CREATED', 'USED BY'], list.map((r) => [r.name, shortTime(r.created_at), r.used_by.join(', ') || '-']), styleFor(ctx)));
      });
    group
      .command('rm')
      .description(`Remove ${kind}s no stack uses`)
      .argument('<name...>', `the ${kind}s`)
      .addHelpText('after', examples(`berth ${kind} rm ${kind === 'network' ? 'sisock-net' : 'kge-data'}`))
      .action(async (names: string[]) => {
        const client = await connect(ctx);
        for (const name of names) {
          await (kind === 'network' ? client.stacks.removeNetwork(name) : client.stacks.removeVolume(name));
          ctx.stdout.write(`${name}\n`);
        }
      });
  }
}
