import type { Command } from 'commander';
import { connect } from '../config.js';
import type { CliContext } from '../context.js';
import { examples, printJson, styleFor } from '../output.js';

export function registerCredentials(program: Command, ctx: CliContext): void {
  program
    .command('credentials')
    .alias('creds')
    .description("Print docker login credentials for the service's image repository")
    .argument('<name>', 'the service')
    .option('--json', 'print {repo_uri, proxy_endpoint, user, password, expires_at}')
    .addHelpText('after', examples('berth credentials web', 'berth credentials web --json | jq -r .repo_uri'))
    .action(async (name: string, options: { json?: boolean }) => {
      const creds = await (await connect(ctx)).dockerCredentials(name);
      if (options.json) {
        printJson(ctx.stdout, creds);
        return;
      }
      const style = styleFor(ctx);
      const field = (label: string, value: string): string => `${style.bold(label.padEnd(16))}${value}\n`;
      ctx.stdout.write(
        field('repo_uri', creds.repo_uri) +
          field('proxy_endpoint', creds.proxy_endpoint) +
          field('user', creds.user) +
          field('password', creds.password) +
          (creds.expires_at ? field('expires_at', creds.expires_at) : '') +
          `\nLog in and push (or let 'berth push ${name} DIR' do it):\n` +
          `  printf '%s' ${shellQuote(creds.password)} | docker login -u ${shellQuote(creds.user)} --password-stdin ${creds.proxy_endpoint}\n` +
          `  docker push ${creds.repo_uri}:TAG\n`,
      );
    });
}

/** Single quotes keep every character literal in sh; a quote inside becomes '\''. */
export function shellQuote(text: string): string {
  return /^[A-Za-z0-9_./:@%+=-]+$/.test(text) ? text : `'${text.replace(/'/g, "'\\''")}'`;
}
