import { Option, type Command } from 'commander';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream } from 'node:fs';
import { open, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { DumpFormat } from '../../client/index.js';
import { syncDirectory } from '../../fs/atomic-file.js';
import { connect } from '../config.js';
import type { BerthClient } from '../../client/index.js';
import type { CliContext, OutputStream } from '../context.js';
import { CliError, UsageError } from '../errors.js';
import { positiveNumber } from '../options.js';
import { printJson, examples, styleFor } from '../output.js';
import { confirmOrRefuse } from '../prompt.js';
import { Meter } from '../transfer-meter.js';
import { waitWith } from '../wait-progress.js';

const DEFAULT_RESTORE_SECONDS = 7200;

/** `berth db dump` and `berth db restore`: dumps streamed through the API with a progress line (bytes, rate). */
export function registerDbTransfers(db: Command, ctx: CliContext): void {
  db.command('dump')
    .description('Stream a consistent dump of the database through the API, with a progress line on stderr')
    .argument('<name>', 'the database')
    .option('-o, --output <file>', 'write it here (complete, or not at all); without it, to stdout')
    .addOption(new Option('--format <format>', 'PostgreSQL: custom (pg_restore) or sql (psql); Redis: rdb').choices(['custom', 'sql', 'rdb']))
    .addHelpText('after', examples('berth db dump jobs -o jobs.dump', 'berth db dump jobs --format sql > jobs.sql', 'berth db dump cache -o cache.rdb'))
    .action(async (name: string, options: { output?: string; format?: DumpFormat }) => {
      if (options.output === undefined && ctx.stdout.isTTY) throw new UsageError('A dump is binary: give -o FILE, or send stdout to a file or a pipe');
      const client = await connect(ctx);
      const stop = new AbortController();
      const unsubscribe = ctx.onInterrupt(() => stop.abort(new CliError('BERTH_INTERRUPTED', 'Dump stopped on Ctrl-C; no file was written')));
      const meter = new Meter(ctx.stderr, `${name}: dumped`);
      try {
        const dump = await client.databases.dump(name, { ...(options.format ? { format: options.format } : {}), signal: stop.signal });
        const counted = meter.count(dump.body);
        if (options.output === undefined) await writeTo(ctx.stdout, counted);
        else await writeFileAtomically(options.output, counted);
        meter.done(options.output === undefined ? `(${dump.format})` : `to ${options.output} (${dump.format})`);
      } catch (error) {
        meter.stop();
        throw stop.signal.aborted ? stop.signal.reason : error;
      } finally {
        unsubscribe();
      }
    });

  db.command('restore')
    .description("Restore a dump (or a backup) into a fresh database and swap it in: a failed restore leaves the old data serving. Asks when the database holds data")
    .argument('<name>', 'the database')
    .argument('[file]', "a dump made by 'berth db dump' (or pg_dump, redis-cli --rdb); - reads stdin")
    .option('--backup <id>', 'restore this backup (see berth db backups) instead of a file', (v: string) => backupId(v))
    .option('-y, --yes', 'do not ask; needed when not on a terminal, or when the dump comes on stdin')
    .option('-d, --detach', 'return once the dump is uploaded, without waiting for the restore')
    .option('--timeout <seconds>', 'give up waiting after this long', positiveNumber, DEFAULT_RESTORE_SECONDS)
    .option('--json', 'print the restore document; progress goes to stderr')
    .addHelpText(
      'after',
      examples('berth db restore jobs jobs.dump', 'berth db restore jobs --backup 12 --yes', 'berth db dump jobs | berth db restore jobs-copy - --yes') +
        "\nA file that is not a dump of the database's engine is refused before anything is touched.\nExits 0 when the restore succeeded, 1 when it failed.\n",
    )
    .action(async (name: string, file: string | undefined, options: { backup?: number; yes?: boolean; detach?: boolean; timeout: number; json?: boolean }) => {
      if ((file === undefined) === (options.backup === undefined)) throw new UsageError('Give a dump FILE or --backup ID (one of them)');
      const client = await connect(ctx);
      // With --yes nothing is asked, so whether it holds data is not asked of the server either.
      if (!options.yes && (await client.databases.hasData(name))) {
        const source = file === undefined ? `backup ${options.backup}` : file === '-' ? 'the dump on stdin' : file;
        // The dump on stdin leaves no keyboard to answer with.
        if (file === '-') throw new UsageError(`'${name}' holds data: restoring over it from stdin needs --yes`);
        await confirmOrRefuse(ctx, false, `'${name}' holds data. Replace all of it with ${source}?`, `'${name}' holds data: not restoring over it without --yes, as nobody at a terminal can confirm`, `'${name}' was not restored`);
      }
      const started = file === undefined ? await client.databases.restoreBackup(name, options.backup as number) : await upload(ctx, client, name, file);
      const out = options.json ? ctx.stderr : ctx.stdout;
      if (options.detach) {
        if (options.json) printJson(ctx.stdout, started);
        else out.write(`restore ${started.id} queued; follow it with 'berth db status ${name}'\n`);
        return;
      }
      const restore = await waitWith(ctx, out, `restore ${started.id} of ${name}`, (wait) => client.databases.waitForRestore(name, started.id, { ...wait, timeoutMs: options.timeout * 1000 }));
      if (options.json) printJson(ctx.stdout, restore);
      if (restore.status !== 'succeeded') throw new CliError('BERTH_RESTORE_FAILED', `restore ${restore.id} failed: ${restore.reason ?? 'no reason given'}; the old data still serves`);
      out.write(`${styleFor(ctx, out).green('✓')} restore ${restore.id} succeeded: ${name} serves the restored data\n`);
    });
}

async function upload(ctx: CliContext, client: BerthClient, name: string, file: string): ReturnType<BerthClient['databases']['restore']> {
  let size: number | null = null;
  if (file !== '-') {
    try {
      size = (await stat(file)).size;
    } catch (error) {
      throw new UsageError(`Cannot read ${file}: ${(error as Error).message}`);
    }
  }
  const stop = new AbortController();
  const unsubscribe = ctx.onInterrupt(() => stop.abort(new CliError('BERTH_INTERRUPTED', 'Upload stopped on Ctrl-C; nothing was restored')));
  const meter = new Meter(ctx.stderr, `${name}: uploaded`, size);
  try {
    const source = file === '-' ? (ctx.stdin as AsyncIterable<Uint8Array>) : createReadStream(file);
    const restore = await client.databases.restore(name, meter.count(source), { signal: stop.signal });
    meter.done(`from ${file === '-' ? 'stdin' : file}`);
    return restore;
  } catch (error) {
    meter.stop();
    throw stop.signal.aborted ? stop.signal.reason : error;
  } finally {
    unsubscribe();
  }
}

/** Written beside the target, fsynced and renamed: a dump broken off leaves no file that looks whole. */
async function writeFileAtomically(file: string, chunks: AsyncIterable<Uint8Array>): Promise<void> {
  const part = join(dirname(file), `.${basename(file)}.${randomBytes(4).toString('hex')}.part`);
  const handle = await open(part, 'wx', 0o600);
  try {
    for await (const chunk of chunks) await handle.write(chunk);
    await handle.sync();
    await handle.close();
    await rename(part, file);
    await syncDirectory(dirname(file));
  } catch (error) {
    await handle.close().catch(() => undefined);
    await rm(part, { force: true });
    throw error;
  }
}

/** To stdout at the pace it takes; a broken-off dump is an error, so whoever reads knows it is not whole. */
async function writeTo(out: OutputStream, chunks: AsyncIterable<Uint8Array>): Promise<void> {
  const emitter = out as OutputStream & Partial<NodeJS.EventEmitter>;
  for await (const chunk of chunks) {
    if (out.write(chunk) === false && typeof emitter.once === 'function') await once(emitter as NodeJS.EventEmitter, 'drain');
  }
}

function backupId(text: string): number {
  const id = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(id) || id < 1) throw new UsageError(`'${text}' is not a backup id`);
  return id;
}
