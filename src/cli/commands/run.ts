import type { Command } from 'commander';
import type { BerthClient, Job, JobInput, LogLine } from '../../client/index.js';
import { cliExitCode, type JobStatus } from '../../domain/job.js';
import { parseProgressLine } from '../../domain/progress.js';
import { connect } from '../config.js';
import { canPrompt, type CliContext } from '../context.js';
import { CliError, EXIT_USAGE, UsageError } from '../errors.js';
import { collect, integerIn, LIMITS, positiveNumber } from '../options.js';
import { examples, printJson, styleFor } from '../output.js';
import { ProgressBar } from '../progress-bar.js';
import { confirm } from '../prompt.js';
import { envFromFlags } from './deploy.js';

interface RunOptions {
  image?: string;
  env?: string[];
  envFile?: string;
  memoryReservation?: number;
  memoryLimit?: number;
  timeout?: number;
  retries?: number;
  schedule?: string;
  detach?: boolean;
  json?: boolean;
}

/** `berth run`: a one-off job, its output streamed, ending with the job's exit code. */
export function registerRun(program: Command, ctx: CliContext): void {
  const memory = integerIn(LIMITS.minMemoryMiB, LIMITS.maxMemoryMiB);
  program
    .command('run')
    .description("Run a command to completion as a job: with a service's image and environment, or with --image")
    .argument('[service]', "the service whose current image and environment the job runs with")
    .argument('[command...]', 'the command and its arguments, after --')
    .option('--image <ref>', 'run this image instead of a service')
    .option('--env <NAME=VALUE>', "a variable (over the service's); repeat for more", collect)
    .option('--env-file <file>', 'NAME=VALUE lines; --env wins over it')
    .option('--memory-reservation <MiB>', 'memory the job waits for before it starts (default: the limit)', memory)
    .option('--memory-limit <MiB>', "hard memory limit (default: the service's, else 256)", memory)
    .option('--timeout <seconds>', 'kill an attempt that runs longer; the job ends timed-out', positiveNumber)
    .option('--retries <n>', 'attempts after a failed one, with backoff (default 0)', integerIn(0, 10))
    .option('--schedule <cron>', 'queue a run each time this cron expression (UTC) is due, instead of once now')
    .option('-d, --detach', 'print the job id and return')
    .option('--json', 'print the finished job (with --detach: {id, status}); output goes to stderr')
    .addHelpText(
      'after',
      examples(
        'berth run web -- python manage.py migrate',
        'berth run --image busybox:1.36 --memory-limit 64 -- sh -c "echo hello"',
        "berth run --image pipeline:v3 --timeout 3600 --retries 2 -d -- run-capability imaging",
        "berth run --image backup:1 --schedule '0 3 * * *' -- backup-everything",
      ) +
        '\nExits with the job\'s exit code (124 when it timed out, 130 when cancelled). Ctrl-C asks whether to\ncancel the job or leave it running. A line `BERTH-PROGRESS <done>/<total> [message]` on the job\'s\noutput draws a progress bar.\n',
    )
    .action(async (service: string | undefined, command: string[], options: RunOptions) => {
      const input = await jobInput(ctx, service, command, options);
      const client = await connect(ctx);
      const created = await client.createJob(input);
      if (options.detach || options.schedule !== undefined) {
        if (options.json) printJson(ctx.stdout, created);
        else ctx.stdout.write(`${created.id}\n`);
        return;
      }
      const job = await followToTheEnd(ctx, client, created.id, options.json ? ctx.stderr : ctx.stdout);
      if (options.json) printJson(ctx.stdout, job);
      const code = cliExitCode({ status: job.status as JobStatus, exitCode: job.exit_code });
      if (code !== 0) throw new CliError(job.status === 'timed-out' ? 'BERTH_JOB_TIMED_OUT' : job.status === 'cancelled' ? 'BERTH_JOB_CANCELLED' : 'BERTH_JOB_FAILED', `job ${job.id} ${job.status}: ${job.reason ?? job.status}`, code);
    });
}

/**
 * Prints the job's output as it is written, drawing its progress on stderr, until it ends.
 * Ctrl-C asks whether to cancel the job; otherwise (or unasked) berth stops following and the
 * job keeps running.
 */
export async function followToTheEnd(ctx: CliContext, client: BerthClient, id: number, out: NodeJS.WritableStream | CliContext['stdout']): Promise<Job> {
  const bar = new ProgressBar(ctx.stderr, styleFor(ctx, ctx.stderr));
  const stop = new AbortController();
  let asking = false;
  let leftRunning = false;
  const onInterrupt = async (): Promise<void> => {
    if (asking) return;
    if (!canPrompt(ctx)) {
      leftRunning = true;
      stop.abort();
      return;
    }
    asking = true;
    bar.clear();
    const cancel = await confirm(ctx, `Cancel job ${id}? (no: it keeps running)`);
    asking = false;
    if (cancel) {
      await client.cancelJob(id);
      ctx.stderr.write(`berth: cancelling job ${id}…\n`);
    } else {
      leftRunning = true;
      stop.abort();
    }
  };
  const unsubscribe = ctx.onInterrupt(() => void onInterrupt());
  const print = (line: LogLine): void => {
    const progress = parseProgressLine(line.message);
    if (progress && bar.draws) {
      bar.show(progress);
      return;
    }
    bar.clear();
    out.write(`${line.message}\n`);
    bar.redraw();
  };
  try {
    await client.followJobLogs(id, { signal: stop.signal, onLine: print });
  } finally {
    unsubscribe();
    bar.clear();
  }
  if (leftRunning) {
    ctx.stderr.write(`berth: job ${id} keeps running; follow it with 'berth job logs ${id} -f', stop it with 'berth job cancel ${id}'\n`);
    throw new CliError('BERTH_JOB_LEFT_RUNNING', `stopped following job ${id}`, 130);
  }
  return client.getJob(id);
}

async function jobInput(ctx: CliContext, service: string | undefined, command: string[], options: RunOptions): Promise<JobInput> {
  const words = service === undefined ? command : [service, ...command];
  const dash = ctx.argv.indexOf('--');
  const cmd = dash === -1 ? [] : ctx.argv.slice(dash + 1);
  // What stands before `--`: the service, or nothing with --image.
  const before = words.slice(0, words.length - cmd.length);
  if (options.image === undefined && before.length !== 1) {
    throw new UsageError(before.length === 0 ? 'Name the service to run with, or give --image REF' : `Put the command after --, e.g. berth run ${before[0]} -- ${before.slice(1).join(' ')}`);
  }
  if (options.image !== undefined && before.length > 0) {
    throw new UsageError(`With --image there is no service: put the command after --, e.g. berth run --image ${options.image} -- ${before.join(' ')}`);
  }
  if (cmd.length > LIMITS.commandWords) throw new CliError('BERTH_USAGE', `A command has at most ${LIMITS.commandWords} words`, EXIT_USAGE);
  const environment = await envFromFlags(options.env, options.envFile);
  return {
    ...(options.image === undefined ? { service: before[0] } : { image: options.image }),
    ...(cmd.length > 0 ? { command: cmd } : {}),
    ...(environment.length > 0 ? { environment } : {}),
    ...(options.memoryReservation === undefined ? {} : { 'memory-reservation': options.memoryReservation }),
    ...(options.memoryLimit === undefined ? {} : { 'memory-limit': options.memoryLimit }),
    ...(options.timeout === undefined ? {} : { timeout: options.timeout }),
    ...(options.retries === undefined ? {} : { retries: options.retries }),
    ...(options.schedule === undefined ? {} : { schedule: options.schedule }),
  };
}
