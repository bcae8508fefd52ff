import type { Command } from 'commander';
import { execInService } from '../../../client/index.js';
import { connect, resolveConnection } from '../../config.js';
import type { CliContext } from '../../context.js';
import { CliError, UsageError } from '../../errors.js';
import { examples } from '../../output.js';
import type { ProjectReader } from './index.js';

type TerminalInput = CliContext['stdin'] & { setRawMode?: (raw: boolean) => unknown };
type TerminalOutput = CliContext['stdout'] & { rows?: number; on?: (event: 'resize', listener: () => void) => unknown; off?: (event: 'resize', listener: () => void) => unknown };

/**
 * `compose exec`: a command (a shell by default) in a running task of the service, with a
 * terminal when stdin is one, as `docker exec -it`. Exits with the command's exit code.
 */
export function registerExec(compose: Command, ctx: CliContext, projectOf: ProjectReader): void {
  compose
    .command('exec')
    .description('Run a command in a running task of a service (a shell by default), with a terminal when stdin is one')
    .argument('<service>', 'the service')
    .argument('[command...]', 'the command and its arguments (default: sh)')
    .option('-T, --no-tty', 'no terminal, even when stdin is one')
    .option('--index <n>', 'accepted for compose compatibility; any running task is used')
    .passThroughOptions()
    .addHelpText('after', examples('berth compose exec web bash', 'berth compose exec -T web python manage.py showmigrations', 'echo "select 1" | berth compose exec -T db psql'))
    .action(async (service: string, words: string[], options: { tty: boolean }, command: Command) => {
      const project = await projectOf(ctx, command);
      const status = await (await connect(ctx)).stacks.get(project.stack);
      const member = status.services.find((s) => s.name === service);
      if (!member || member.state === 'not created') throw new UsageError(`'${service}' is no service of stack ${project.stack} that up has made`);
      const { url, token } = await resolveConnection(ctx.env);
      const input = ctx.stdin as TerminalInput;
      const output = ctx.stdout as TerminalOutput;
      const tty = options.tty && Boolean(input.isTTY) && Boolean(ctx.stdout.isTTY);
      const connection = await execInService(
        url,
        token,
        member.service,
        { command: words.length > 0 ? words : ['sh'], tty, ...(tty && output.columns && output.rows ? { columns: output.columns, rows: output.rows } : {}) },
        (channel, data) => (channel === 2 ? ctx.stderr : ctx.stdout).write(data.toString('utf8')),
      );
      const onResize = (): void => {
        if (output.columns && output.rows) connection.resize(output.columns, output.rows);
      };
      if (tty) {
        input.setRawMode?.(true);
        output.on?.('resize', onResize);
      }
      const onData = (chunk: Buffer | string): void => connection.write(Buffer.from(chunk));
      const onEnd = (): void => connection.end();
      input.on('data', onData);
      input.on('end', onEnd);
      input.resume();
      let code: number | null;
      try {
        code = await connection.exited;
      } finally {
        input.off('data', onData);
        input.off('end', onEnd);
        input.pause();
        if (tty) {
          input.setRawMode?.(false);
          output.off?.('resize', onResize);
        }
      }
      if (code === null) throw new CliError('BERTH_EXEC_FAILED', 'the command ended, but its exit code is unknown');
      if (code !== 0) throw new CliError('BERTH_EXEC_FAILED', `the command exited with code ${code}`, code);
    });
}
