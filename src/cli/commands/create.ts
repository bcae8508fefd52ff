import type { Command } from 'commander';
import type { HealthCheck } from '../../client/index.js';
import { connect } from '../config.js';
import type { CliContext } from '../context.js';
import { positiveNumber } from '../options.js';
import { examples, printJson } from '../output.js';

interface CreateOptions {
  healthPath?: string;
  healthCodes?: string;
  healthInterval?: number;
  json?: boolean;
}

export function registerCreate(program: Command, ctx: CliContext): void {
  program
    .command('create')
    .description('Create an empty service and its image repository')
    .argument('<name>', 'a-z first; a-z, 0-9 and -; at most 32 characters with the "<project>-" prefix')
    .option('--health-path <path>', 'path probed under the context root (server default /)')
    .option('--health-codes <codes>', 'healthy status codes, e.g. 200-299 or 200,302 (server default 200-399)')
    .option('--health-interval <seconds>', 'seconds between probes (server default 5)', positiveNumber)
    .option('--json', 'print the created service document')
    .addHelpText('after', examples('berth create web', 'berth create api --health-path /health --health-codes 200-299 --health-interval 2'))
    .action(async (name: string, options: CreateOptions) => {
      const healthCheck: HealthCheck = {
        ...(options.healthPath === undefined ? {} : { rel_path: options.healthPath }),
        ...(options.healthCodes === undefined ? {} : { status_codes: options.healthCodes }),
        ...(options.healthInterval === undefined ? {} : { interval: options.healthInterval }),
      };
      const client = await connect(ctx);
      const created = await client.createService(name, Object.keys(healthCheck).length > 0 ? healthCheck : undefined);
      if (options.json) {
        printJson(ctx.stdout, created);
        return;
      }
      const url = created.links.find((l) => l.rel === 'deployment')?.href;
      ctx.stdout.write(`Created ${created.name}${url ? `; it will be served at ${url}` : ''}\n`);
      ctx.stdout.write(`Next: berth push ${created.name} DIR, then berth deploy ${created.name} --tag latest --memory-reservation MiB --memory-limit MiB --port N\n`);
    });
}
