import type { Command } from 'commander';
import type { Certificate } from '../../client/index.js';
import { connect } from '../config.js';
import type { CliContext } from '../context.js';
import { examples, printJson, shortTime, styleFor, table, type Style } from '../output.js';

/** `berth certs ls` and `berth certs renew HOST` (admin token). */
export function registerCerts(program: Command, ctx: CliContext): void {
  const certs = program.command('certs').description("The gateway's TLS certificates (needs the admin token)");
  certs
    .command('ls')
    .alias('list')
    .description('Every host with its issuer, expiry, next renewal and last error')
    .option('--json', 'print the certificates document as the API sends it')
    .addHelpText('after', examples('BERTH_TOKEN=$ADMIN_TOKEN berth certs ls', "berth certs ls --json | jq -r '.certificates[] | select(.last_error) | .host'"))
    .action(async (options: { json?: boolean }) => {
      const doc = await (await connect(ctx)).certificates();
      if (options.json) {
        printJson(ctx.stdout, doc);
        return;
      }
      if (doc.mode === 'off') {
        ctx.stdout.write('The gateway serves plain HTTP only (the server runs without --tls).\n');
        return;
      }
      const style = styleFor(ctx);
      const rows = doc.certificates.map((c) => [c.host, c.issuer ?? '-', time(c.expires_at), renewal(c), c.last_error === null ? '' : `${c.last_error.code}: ${c.last_error.message}`]);
      ctx.stdout.write(table(['HOST', 'ISSUER', 'EXPIRES', 'RENEWAL', 'LAST ERROR'], rows, style, (column, text) => (column === 4 && text !== '' ? style.red(text) : text)));
    });
  certs
    .command('renew')
    .description('Replace a certificate now, with a new key (as certbot renew --force-renewal), and wait for it')
    .argument('<host>', 'a host of berth certs ls')
    .option('--json', 'print the certificate document as the API sends it')
    .addHelpText('after', examples('BERTH_TOKEN=$ADMIN_TOKEN berth certs renew apps.example.org'))
    .action(async (host: string, options: { json?: boolean }) => {
      const doc = await (await connect(ctx)).renewCertificate(host);
      if (options.json) printJson(ctx.stdout, doc);
      else ctx.stdout.write(renewed(doc, styleFor(ctx)));
    });
}

function renewal(c: Certificate): string {
  if (c.renewing) return 'renewing now';
  if (c.renew_at === null) return "the user's; not renewed by berth";
  const next = c.next_attempt_at ?? c.renew_at;
  return `${c.failures > 0 ? `retry (${c.failures} failed) ` : ''}${time(next)}`;
}

function renewed(c: Certificate, style: Style): string {
  return `${style.green('renewed')} ${c.host}: ${c.issuer ?? '?'}, valid until ${time(c.expires_at)}, renewed again from ${time(c.renew_at)}\n`;
}

function time(iso: string | null): string {
  return iso === null ? '-' : shortTime(iso);
}
