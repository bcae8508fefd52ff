import { Option, type Command } from 'commander';
import { writeFileAtomic } from '../../fs/atomic-file.js';
import type { LogLine, Logs } from '../../client/index.js';
import { connect } from '../config.js';
import type { CliContext } from '../context.js';
import { CliError } from '../errors.js';
import { integerIn, LIMITS } from '../options.js';
import { examples, styleFor, type Paint, type Style } from '../output.js';

interface LogsOptions {
  tail?: number;
  streams?: number;
  follow?: boolean;
  json?: boolean;
  colour?: string;
  output?: string;
}

export function registerLogs(program: Command, ctx: CliContext): void {
  program
    .command('logs')
    .description("Print a service's logs as 'stream | time | message' lines, one stream a task")
    .argument('<name>', 'the service')
    .option('--tail <n>', 'last lines of each stream (server default 100; 20 with --follow)', integerIn(1, LIMITS.tail))
    .option('--streams <n>', 'newest streams to show (server default 5; ignored with --follow)', integerIn(1, LIMITS.streams))
    .option('-f, --follow', 'keep printing new lines, of new tasks too, until Ctrl-C')
    .option('--json', 'print the logs document (with --follow: one JSON line per log line)')
    .option('--colour <name>', 'the logs of this colour of the service (default: the live colour)')
    .addOption(new Option('--output <file>', 'write the logs to this file instead (replaced whole, never half-written)').conflicts('follow'))
    .addHelpText(
      'after',
      examples('berth logs web --tail 50', 'berth logs web -f', "berth logs web --json | jq -r '.logs[0].log_events[].message'", 'berth logs nmpi --colour green --output nmpi-green.log'),
    )
    .action(async (name: string, options: LogsOptions) => {
      const client = await connect(ctx);
      const colour = options.colour === undefined ? {} : { colour: options.colour };
      if (options.output !== undefined) {
        const logs = await client.logs(name, { tail: options.tail, streams: options.streams, ...colour });
        const lines = chronological(logs);
        const text = options.json ? `${JSON.stringify(logs, null, 2)}\n` : lines.map((l) => `${l.stream_name} | ${l.time} | ${l.message}\n`).join('');
        await writeFileAtomic(options.output, text, 0o644);
        ctx.stdout.write(`wrote ${lines.length} line(s) of ${logs.logs.length} task(s) to ${options.output}\n`);
        return;
      }
      const style = styleFor(ctx);
      const colourOf = streamColours(style);
      const print = (line: LogLine): void => {
        ctx.stdout.write(options.json ? `${JSON.stringify(line)}\n` : `${colourOf(line.stream_name)(line.stream_name)} | ${style.dim(line.time)} | ${line.message}\n`);
      };
      if (!options.follow) {
        const logs = await client.logs(name, { tail: options.tail, streams: options.streams, ...colour });
        if (options.json) ctx.stdout.write(`${JSON.stringify(logs, null, 2)}\n`);
        else for (const line of chronological(logs)) print(line);
        return;
      }
      const stop = new AbortController();
      const unsubscribe = ctx.onInterrupt(() => stop.abort());
      try {
        await client.followLogs(name, { tail: options.tail, signal: stop.signal, onLine: print, ...colour });
      } finally {
        unsubscribe();
      }
      // Only Ctrl-C ends following on purpose; the server ending the stream (it stopped, say) is a failure.
      if (!stop.signal.aborted) throw new CliError('BERTH_STREAM_CLOSED', 'The server ended the log stream');
    });
}

/**
 * All streams merged by time, the newest line at the bottom next to the
 * prompt; old and new tasks overlap during a deployment, and this is the
 * order things happened in. The sort is stable, so equal times keep the
 * older stream first.
 */
export function chronological(logs: Logs): LogLine[] {
  const lines = [...logs.logs].reverse().flatMap((s) => s.log_events.map((e) => ({ stream_name: s.stream_name, ...e })));
  return lines.sort((a, b) => Date.parse(a.time) - Date.parse(b.time));
}

/** Each stream keeps one colour, so interleaved tasks stay apart. */
export function streamColours(style: Style): (stream: string) => Paint {
  const palette = [style.cyan, style.magenta, style.blue, style.yellow, style.green];
  const assigned = new Map<string, Paint>();
  return (stream) => {
    let paint = assigned.get(stream);
    if (!paint) {
      paint = palette[assigned.size % palette.length] ?? style.cyan;
      assigned.set(stream, paint);
    }
    return paint;
  };
}
