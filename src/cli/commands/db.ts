import { Option, type Command } from 'commander';
import type { Backup, DatabaseStatus, DatabaseSummary } from '../../client/index.js';
import { connect } from '../config.js';
import type { CliContext } from '../context.js';
import { CliError } from '../errors.js';
import { integerIn, LIMITS, positiveNumber } from '../options.js';
import { examples, paintState, printJson, shortTime, styleFor, table, type Style } from '../output.js';
import { confirmOrRefuse } from '../prompt.js';
import { formatBytes } from '../transfer-meter.js';
import { waitWith } from '../wait-progress.js';
import { registerDbTransfers } from './db-transfer.js';

interface CreateOptions {
  engine: string;
  image?: string;
  version?: string;
  memoryReservation?: number;
  memoryLimit?: number;
  backupSchedule?: string;
  keep?: number;
  detach?: boolean;
  timeout: number;
  json?: boolean;
}

const DEFAULT_READY_SECONDS = 300;
const DEFAULT_BACKUP_SECONDS = 7200;

/** `berth db create|ls|status|rm|url|dump|restore|backup|backups`: the project's managed databases. */
export function registerDb(program: Command, ctx: CliContext): void {
  const db = program.command('db').description("The project's managed databases (PostgreSQL, Redis): data on a volume, dumps, restores and verified backups");
  const memory = integerIn(LIMITS.minMemoryMiB, LIMITS.maxMemoryMiB);
  db.command('create')
    .description('Start a database: a volume, a generated password, TCP readiness, no route; waits until it is ready')
    .argument('<name>', "its name, also its host name on the project's network")
    .addOption(new Option('--engine <engine>', 'the engine').choices(['postgres', 'redis']).makeOptionMandatory())
    .addOption(new Option('--image <ref>', "any image keeping the official image's contract (default postgres:15, redis:7)").conflicts('version'))
    .option('--version <tag>', "the official image's tag, e.g. 16 for postgres:16")
    .option('--memory-reservation <MiB>', 'memory reserved (default 128 for PostgreSQL, 32 for Redis)', memory)
    .option('--memory-limit <MiB>', 'hard memory limit (default 512 for PostgreSQL, 256 for Redis)', memory)
    .option('--backup-schedule <cron>', 'take a verified backup on this schedule (cron, UTC), e.g. "0 */6 * * *"')
    .option('--keep <n>', 'verified backups kept (default 7)', integerIn(1, 1000))
    .option('-d, --detach', 'return once the server took it, without waiting until it is ready')
    .option('--timeout <seconds>', 'give up waiting after this long', positiveNumber, DEFAULT_READY_SECONDS)
    .option('--json', 'print the database document; progress goes to stderr')
    .addHelpText(
      'after',
      examples('berth db create jobs --engine postgres', 'berth db create cache --engine redis --memory-limit 128', 'berth db create jobs --engine postgres --version 16 --backup-schedule "0 */6 * * *" --keep 7') +
        "\nA removed database (berth db rm without --delete-data) comes back with its data when created again.\n",
    )
    .action(async (name: string, options: CreateOptions) => {
      const client = await connect(ctx);
      const created = await client.databases.create({
        name,
        engine: options.engine,
        ...(options.image === undefined ? {} : { image: options.image }),
        ...(options.version === undefined ? {} : { version: options.version }),
        ...(options.memoryReservation === undefined ? {} : { 'memory-reservation': options.memoryReservation }),
        ...(options.memoryLimit === undefined ? {} : { 'memory-limit': options.memoryLimit }),
        ...(options.backupSchedule === undefined ? {} : { 'backup-schedule': options.backupSchedule }),
        ...(options.keep === undefined ? {} : { keep: options.keep }),
      });
      if (options.detach) {
        if (options.json) printJson(ctx.stdout, created);
        else ctx.stdout.write(`${name}: ${created.status}; follow it with 'berth db status ${name}'\n`);
        return;
      }
      const out = options.json ? ctx.stderr : ctx.stdout;
      const doc = await waitWith(ctx, out, `${name}`, (wait) => client.databases.waitUntilReady(name, { ...wait, timeoutMs: options.timeout * 1000 }));
      if (options.json) printJson(ctx.stdout, doc);
      if (doc.status !== 'ready') throw new CliError('BERTH_DATABASE_FAILED', `${name} did not become ready: ${doc.reason ?? doc.events[0]?.message ?? doc.status}`);
      out.write(`${styleFor(ctx, out).green('✓')} ${name} is ready (${doc.image}) at ${doc.host}:${doc.port} on the project's network; 'berth db url ${name}' prints its URL\n`);
    });

  db.command('ls')
    .description("List the project's databases")
    .option('--json', 'print the list as the API sends it')
    .addHelpText('after', examples('berth db ls', 'berth db ls --json'))
    .action(async (options: { json?: boolean }) => {
      const list = await (await connect(ctx)).databases.list();
      if (options.json) return printJson(ctx.stdout, list);
      if (list.length === 0) return void ctx.stdout.write("No databases yet; make one with 'berth db create NAME --engine postgres'.\n");
      ctx.stdout.write(databaseTable(list, styleFor(ctx)));
    });

  db.command('status')
    .description('A database: state, task, memory, backups, the last restore and recent events')
    .argument('<name>', 'the database')
    .option('--json', 'print the document as the API sends it')
    .addHelpText('after', examples('berth db status jobs', "berth db status jobs --json | jq .last_backup"))
    .action(async (name: string, options: { json?: boolean }) => {
      const doc = await (await connect(ctx)).databases.get(name);
      if (options.json) printJson(ctx.stdout, doc);
      else ctx.stdout.write(renderDatabase(doc, styleFor(ctx)));
    });

  db.command('rm')
    .description('Stop a database; its volume, password and backups stay (create it again to bring it back) unless --delete-data')
    .argument('<name>', 'the database')
    .option('--delete-data', 'also delete its volume and its backups, for good')
    .option('-y, --yes', 'do not ask; needed when not on a terminal')
    .option('--json', 'print the API answer')
    .addHelpText('after', examples('berth db rm jobs', 'berth db rm jobs --delete-data --yes'))
    .action(async (name: string, options: { deleteData?: boolean; yes?: boolean; json?: boolean }) => {
      const what = options.deleteData ? `Delete database '${name}' with its volume and every backup, for good?` : `Stop database '${name}'? Its volume and backups are kept`;
      await confirmOrRefuse(ctx, options.yes, what, `Not removing '${name}' without --yes: nobody at a terminal can confirm`, `'${name}' was not removed`);
      const answer = await (await connect(ctx)).databases.remove(name, { deleteData: options.deleteData ?? false });
      if (options.json) printJson(ctx.stdout, answer);
      else ctx.stdout.write(options.deleteData ? `Deleting ${name} with its data\n` : `Removing ${name}; its data is kept: 'berth db create ${name} --engine ${answer.engine}' brings it back\n`);
    });

  db.command('url')
    .description('Print the connection URL, password included, as services on the project network reach it')
    .argument('<name>', 'the database')
    .addHelpText('after', examples('berth db url jobs', 'psql "$(berth db url jobs)"   # from a task on the project network'))
    .action(async (name: string) => {
      ctx.stdout.write(`${await (await connect(ctx)).databases.url(name)}\n`);
    });

  registerDbTransfers(db, ctx);

  db.command('backup')
    .description('Take a backup now and wait until it is verified (restored into a scratch task and counted) or failed')
    .argument('<name>', 'the database')
    .option('-d, --detach', 'print the backup id and return')
    .option('--timeout <seconds>', 'give up waiting after this long', positiveNumber, DEFAULT_BACKUP_SECONDS)
    .option('--json', 'print the backup document; progress goes to stderr')
    .addHelpText('after', examples('berth db backup jobs', 'berth db backup jobs --detach') + '\nExits 0 when the backup was verified, 1 when it failed.\n')
    .action(async (name: string, options: { detach?: boolean; timeout: number; json?: boolean }) => {
      const client = await connect(ctx);
      const queued = await client.databases.backup(name);
      if (options.detach) {
        if (options.json) printJson(ctx.stdout, queued);
        else ctx.stdout.write(`backup ${queued.id} queued; see 'berth db backups ${name}'\n`);
        return;
      }
      const out = options.json ? ctx.stderr : ctx.stdout;
      const backup = await waitWith(ctx, out, `backup ${queued.id} of ${name}`, (wait) => client.databases.waitForBackup(name, queued.id, { ...wait, timeoutMs: options.timeout * 1000 }));
      if (options.json) printJson(ctx.stdout, backup);
      if (backup.status !== 'verified') throw new CliError('BERTH_BACKUP_FAILED', `backup ${backup.id} failed: ${backup.reason ?? 'no reason given'}`);
      out.write(`${styleFor(ctx, out).green('✓')} backup ${backup.id} verified: ${describeBackup(backup)}\n`);
    });

  db.command('backups')
    .description("A database's backups, newest first: size, how long the dump and its verification took, and the verdict")
    .argument('<name>', 'the database')
    .option('--json', 'print the list as the API sends it (verified: true|false)')
    .addHelpText('after', examples('berth db backups jobs', "berth db backups jobs --json | jq '.[] | select(.verified) | .id'"))
    .action(async (name: string, options: { json?: boolean }) => {
      const list = await (await connect(ctx)).databases.backups(name);
      if (options.json) return printJson(ctx.stdout, list);
      if (list.length === 0) return void ctx.stdout.write(`No backups of ${name} yet; take one with 'berth db backup ${name}'.\n`);
      ctx.stdout.write(backupTable(list, styleFor(ctx)));
    });
}

function databaseTable(list: readonly DatabaseSummary[], style: Style): string {
  const rows = list.map((d) => [d.name, d.engine, d.status, d.image, `${d.host}:${d.port}`]);
  return table(['NAME', 'ENGINE', 'STATUS', 'IMAGE', 'ADDRESS'], rows, style, (column, text) => (column === 2 ? paintDb(style, text) : text));
}

function backupTable(list: readonly Backup[], style: Style): string {
  const seconds = (s: number | null): string => (s === null ? '-' : `${s.toFixed(1)}s`);
  const rows = list.map((b) => [String(b.id), b.status, b.trigger, b.size === null ? '-' : formatBytes(b.size), seconds(b.dump_seconds), seconds(b.verify_seconds), shortTime(b.created_at), b.reason ?? '']);
  return table(['ID', 'VERDICT', 'TRIGGER', 'SIZE', 'DUMP', 'VERIFY', 'CREATED', 'REASON'], rows, style, (column, text) => (column === 1 ? paintDb(style, text) : text));
}

function paintDb(style: Style, state: string): string {
  const text = state.trim();
  if (text === 'ready' || text === 'verified') return state.replace(text, style.green(text));
  return paintState(style, state);
}

function describeBackup(b: Backup): string {
  const counts = Object.entries(b.counts ?? {}).filter(([k]) => k !== 'expiring-keys');
  const held = 'keys' in (b.counts ?? {}) ? `${b.counts?.keys ?? 0} keys` : `${counts.length} tables, ${counts.reduce((n, [, c]) => n + c, 0)} rows`;
  return `${formatBytes(b.size ?? 0)}, ${held}; dump ${b.dump_seconds ?? '?'} s, verification ${b.verify_seconds ?? '?'} s`;
}

export function renderDatabase(doc: DatabaseStatus, style: Style): string {
  const lines = [
    `${style.bold(doc.name)}  ${paintDb(style, doc.status)}${doc.reason ? `: ${doc.reason}` : ''}`,
    `  engine    ${doc.engine} (${doc.image}), revision ${doc.revision}`,
    `  address   ${doc.host}:${doc.port} on the project's network`,
    `  memory    ${doc.memory_reservation} MiB reserved, ${doc.memory_limit} MiB limit`,
    `  task      ${doc.task ?? '-'} (${doc.task_state})`,
    `  backups   ${doc.backup_schedule ? `${doc.backup_schedule} (UTC), keep ${doc.keep}${doc.next_backup_at ? `, next ${shortTime(doc.next_backup_at)}` : ''}` : `none scheduled, keep ${doc.keep}`}`,
  ];
  if (doc.last_backup) lines.push(`  last      backup ${doc.last_backup.id} ${doc.last_backup.status}${doc.last_backup.reason ? `: ${doc.last_backup.reason}` : ''} (${shortTime(doc.last_backup.created_at)})`);
  if (doc.restore) lines.push(`  restore   ${doc.restore.id} ${doc.restore.status}${doc.restore.reason ? `: ${doc.restore.reason}` : ''} (${shortTime(doc.restore.created_at)})`);
  if (doc.events.length > 0) {
    lines.push('', style.bold('events'));
    for (const e of [...doc.events].reverse()) lines.push(`  ${style.dim(shortTime(e.created_at))}  ${e.message}`);
  }
  return `${lines.join('\n')}\n`;
}
