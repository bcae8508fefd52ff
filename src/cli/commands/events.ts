import type { Command } from 'commander';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ServiceEvent } from '../../client/index.js';
import { connect } from '../config.js';
import type { CliContext } from '../context.js';
import { integerIn, LIMITS } from '../options.js';
import { examples, shortTime, styleFor } from '../output.js';

/** How often --follow asks for new events. */
const FOLLOW_POLL_MS = 1000;

interface EventsOptions {
  limit?: number;
  follow?: boolean;
  json?: boolean;
  colour?: string;
}

export function registerEvents(program: Command, ctx: CliContext): void {
  program
    .command('events')
    .description("Print a service's events, oldest first: deployments, task starts and exits, health changes")
    .argument('<name>', 'the service')
    .option('--limit <n>', 'latest events to print (default 50)', integerIn(1, LIMITS.events), 50)
    .option('-f, --follow', 'keep printing new events until Ctrl-C')
    .option('--json', 'print the events document (with --follow: one JSON line per event)')
    .option('--colour <name>', "only this colour's events (a service with colours shows its own and every colour's, each marked)")
    .addHelpText('after', examples('berth events web --limit 20', 'berth events web -f'))
    .action(async (name: string, options: EventsOptions) => {
      const client = await connect(ctx);
      const style = styleFor(ctx);
      const print = (e: ServiceEvent): void => {
        const colour = e.colour === undefined ? '' : `${style.cyan(`[${e.colour}]`)} `;
        ctx.stdout.write(options.json ? `${JSON.stringify(e)}\n` : `${style.dim(shortTime(e.created_at))}  ${colour}${e.message}\n`);
      };
      const colour = options.colour;
      const first = await client.events(name, { limit: options.limit, colour });
      if (!options.follow) {
        if (options.json) ctx.stdout.write(`${JSON.stringify(first, null, 2)}\n`);
        else for (const e of first.events) print(e);
        return;
      }
      for (const e of first.events) print(e);
      let cursor = first.events.at(-1)?.id ?? 0;
      const stop = new AbortController();
      const unsubscribe = ctx.onInterrupt(() => stop.abort());
      try {
        while (!stop.signal.aborted) {
          await sleep(FOLLOW_POLL_MS, undefined, { signal: stop.signal });
          const fresh = (await client.events(name, cursor > 0 ? { after: cursor, colour } : { colour }, { signal: stop.signal })).events.filter((e) => e.id > cursor);
          for (const e of fresh) print(e);
          cursor = fresh.at(-1)?.id ?? cursor;
        }
      } catch (error) {
        // Ctrl-C is how --follow ends; anything else is a real failure.
        if (!stop.signal.aborted) throw error;
      } finally {
        unsubscribe();
      }
    });
}
