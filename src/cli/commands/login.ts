import type { Command } from 'commander';
import { text } from 'node:stream/consumers';
import { configPath, saveConnection } from '../config.js';
import type { CliContext } from '../context.js';
import { UsageError } from '../errors.js';
import { examples } from '../output.js';

interface LoginOptions {
  url: string;
  token: string;
}

export function registerLogin(program: Command, ctx: CliContext): void {
  program
    .command('login')
    .description('Store the server URL and token for later commands (BERTH_URL and BERTH_TOKEN override them)')
    .requiredOption('--url <url>', 'the berth API, e.g. http://127.0.0.1:7070')
    .requiredOption('--token <token>', "a project token, or '-' to read it from stdin (keeps it out of shell history)")
    .addHelpText('after', examples('berth login --url https://berth.example.org --token "$BERTH_PROJECT_TOKEN"', 'pass show berth/exp-2 | berth login --url http://127.0.0.1:7070 --token -'))
    .action(async (options: LoginOptions) => {
      const url = checkedUrl(options.url);
      const token = options.token === '-' ? (await text(ctx.stdin)).trim() : options.token;
      if (token === '') throw new UsageError('The token is empty');
      const file = configPath(ctx.env);
      await saveConnection(file, { url, token });
      ctx.stdout.write(`Saved ${url} and the token to ${file}\n`);
    });
}

function checkedUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(`'${value}' is not a URL; give one like http://127.0.0.1:7070`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`The URL must start with http:// or https://, not ${url.protocol}//`);
  return value.replace(/\/+$/, '');
}
