import type { Command } from 'commander';
import type { Job, JobSummary, LogLine } from '../../client/index.js';
import { connect } from '../config.js';
import type { CliContext } from '../context.js';
import { UsageError } from '../errors.js';
import { integerIn } from '../options.js';
import { examples, paintState, printJson, shortTime, styleFor, table, type Style } from '../output.js';
import { renderBar } from '../progress-bar.js';

const MAX_JOB_ID = 1e12;

/** `berth jobs` and `berth job status|logs|cancel ID`. */
export function registerJobs(program: Command, ctx: CliContext): void {
  program
    .command('jobs')
    .description("List the project's jobs, newest first: status, attempts, exit code, progress or next run")
    .option('--limit <n>', 'at most this many (default 100)', integerIn(1, 1000))
    .option('--json', 'print the list as the API sends it')
    .addHelpText('after', examples('berth jobs', "berth jobs --json | jq '.[] | select(.status == \"failed\") | .id'"))
    .action(async (options: { limit?: number; json?: boolean }) => {
      const jobs = await (await connect(ctx)).listJobs({ limit: options.limit });
      if (options.json) printJson(ctx.stdout, jobs);
      else if (jobs.length === 0) ctx.stdout.write("No jobs yet; start one with 'berth run'.\n");
      else ctx.stdout.write(jobTable(jobs, styleFor(ctx)));
    });

  const job = program.command('job').description('Look at or cancel one job (see berth jobs)');
  job
    .command('status')
    .description('A job: status, progress, attempts and events')
    .argument('<id>', 'the job id', jobId)
    .option('--json', 'print the job document as the API sends it')
    .addHelpText('after', examples('berth job status 12'))
    .action(async (id: number, options: { json?: boolean }) => {
      const doc = await (await connect(ctx)).getJob(id);
      if (options.json) printJson(ctx.stdout, doc);
      else ctx.stdout.write(renderJob(doc, styleFor(ctx)));
    });
  job
    .command('logs')
    .description("A job's output, every attempt's; -f follows it until the job ends")
    .argument('<id>', 'the job id', jobId)
    .option('--tail <n>', 'last lines of each attempt (default 100)', integerIn(1, 100_000))
    .option('-f, --follow', 'keep printing until the job has ended, or Ctrl-C')
    .option('--json', 'print the logs document (with --follow: one JSON line per line)')
    .addHelpText('after', examples('berth job logs 12', 'berth job logs 12 -f'))
    .action(async (id: number, options: { tail?: number; follow?: boolean; json?: boolean }) => {
      const client = await connect(ctx);
      const print = (line: LogLine): void => {
        ctx.stdout.write(options.json ? `${JSON.stringify(line)}\n` : `${line.message}\n`);
      };
      if (!options.follow) {
        const logs = await client.jobLogs(id, { tail: options.tail });
        if (options.json) printJson(ctx.stdout, logs);
        else for (const stream of [...logs.logs].reverse()) for (const e of stream.log_events) print({ stream_name: stream.stream_name, ...e });
        return;
      }
      const stop = new AbortController();
      const unsubscribe = ctx.onInterrupt(() => stop.abort());
      try {
        await client.followJobLogs(id, { tail: options.tail, signal: stop.signal, onLine: print });
      } finally {
        unsubscribe();
      }
    });
  job
    .command('cancel')
    .description('Cancel a job: a queued one at once; a running one’s task is stopped (SIGTERM, then SIGKILL)')
    .argument('<id>', 'the job id', jobId)
    .option('--json', 'print the job document')
    .addHelpText('after', examples('berth job cancel 12'))
    .action(async (id: number, options: { json?: boolean }) => {
      const doc = await (await connect(ctx)).cancelJob(id);
      if (options.json) printJson(ctx.stdout, doc);
      else ctx.stdout.write(`job ${id}: cancel requested (${doc.status})\n`);
    });
}

function jobId(text: string): number {
  const id = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(id) || id < 1 || id > MAX_JOB_ID) throw new UsageError(`'${text}' is not a job id`);
  return id;
}

function jobTable(jobs: readonly JobSummary[], style: Style): string {
  const rows = jobs.map((j) => [
    String(j.id),
    j.status,
    clip((j.command ?? ['(image default)']).join(' '), 40),
    j.service ?? j.image,
    String(j.attempts),
    j.exit_code === null ? '-' : String(j.exit_code),
    j.status === 'scheduled' ? `next ${shortTime(j.next_run ?? '')}` : j.progress ? `${j.progress.percent}% ${j.progress.done}/${j.progress.total}` : '-',
    shortTime(j.created_at),
  ]);
  return table(['ID', 'STATUS', 'COMMAND', 'IMAGE/SERVICE', 'ATTEMPTS', 'EXIT', 'PROGRESS/NEXT', 'CREATED'], rows, style, (column, text) =>
    column === 1 ? paintState(style, text) : text,
  );
}

export function renderJob(job: Job, style: Style): string {
  const lines = [
    `${style.bold(`job ${job.id}`)}  ${paintState(style, job.status)}${job.reason ? `: ${job.reason}` : ''}`,
    `  runs      ${job.service ? `service ${job.service} (${job.image})` : job.image}: ${(job.command ?? ['(image default)']).join(' ')}`,
    `  memory    ${job.memory_reservation} MiB reserved, ${job.memory_limit} MiB limit; timeout ${job.timeout === null ? 'none' : `${job.timeout} s`}; retries ${job.retries}`,
  ];
  if (job.schedule) lines.push(`  schedule  ${job.schedule}${job.next_run ? `, next run ${shortTime(job.next_run)}` : ''}`);
  if (job.progress) lines.push(`  progress  ${renderBar(job.progress)}`);
  if (job.exit_code !== null) lines.push(`  exit code ${job.exit_code}`);
  if (job.attempt_list.length > 0) {
    lines.push('', style.bold('attempts'));
    for (const a of job.attempt_list) lines.push(`  ${a.number}  ${a.task_name}  ${shortTime(a.started_at)}  ${a.outcome ?? 'running'}`);
  }
  if (job.events.length > 0) {
    lines.push('', style.bold('events'));
    for (const e of [...job.events].reverse()) lines.push(`  ${style.dim(shortTime(e.created_at))}  ${e.message}`);
  }
  return `${lines.join('\n')}\n`;
}

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
