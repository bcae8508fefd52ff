import type { Command } from 'commander';
import { connect } from '../config.js';
import type { CliContext } from '../context.js';
import { integerIn } from '../options.js';
import { examples, printJson, shortTime, styleFor, table } from '../output.js';

export function registerAudit(program: Command, ctx: CliContext): void {
  program
    .command('audit')
    .description('Show who did what and when, newest first (needs the admin token)')
    .option('--limit <n>', 'entries to show (default 100)', integerIn(1, 10_000))
    .option('--json', 'print the audit document')
    .addHelpText('after', examples('BERTH_TOKEN=$ADMIN_TOKEN berth audit --limit 20'))
    .action(async (options: { limit?: number; json?: boolean }) => {
      const audit = await (await connect(ctx)).audit({ limit: options.limit });
      if (options.json) {
        printJson(ctx.stdout, audit);
        return;
      }
      const rows = audit.entries.map((e) => [shortTime(e.at), e.actor, e.action, e.target, e.detail ?? '']);
      ctx.stdout.write(table(['TIME', 'ACTOR', 'ACTION', 'TARGET', 'DETAIL'], rows, styleFor(ctx)));
    });
}
