import type { Command } from 'commander';
import type { BerthClient, StackServiceAction, StackStatus } from '../../../client/index.js';
import { connect } from '../../config.js';
import { canPrompt, type CliContext } from '../../context.js';
import { docker, dockerOutput } from '../../docker-cli.js';
import { CliError, UsageError } from '../../errors.js';
import { integerIn, LIMITS, positiveNumber } from '../../options.js';
import { examples, paintState, printJson, styleFor, table } from '../../output.js';
import { confirm } from '../../prompt.js';
import { followToTheEnd } from '../run.js';
import { localImageName } from './build.js';
import { stackLogs } from './follow.js';
import type { ProjectReader } from './index.js';

const DOWN_POLL_MS = 500;
const DEFAULT_DOWN_WAIT_SECONDS = 300;

/** ps, logs, start, stop, restart, kill, rm, down and run: the stack's services after up. */
export function registerLifecycle(compose: Command, ctx: CliContext, projectOf: ProjectReader): void {
  const stackOf = async (command: Command): Promise<{ client: BerthClient; stack: string; status: StackStatus }> => {
    const project = await projectOf(ctx, command);
    const client = await connect(ctx);
    return { client, stack: project.stack, status: await client.stacks.get(project.stack) };
  };

  compose
    .command('ps')
    .description("The stack's services: state, health, replicas, URL or host ports")
    .addHelpText('after', examples("berth compose ps", "berth compose ps --json | jq '.services[] | {name, state}'"))
    .option('--json', 'print the stack document as the API sends it')
    .action(async (options: { json?: boolean }, command: Command) => {
      const { status } = await stackOf(command);
      if (options.json) return printJson(ctx.stdout, status);
      const style = styleFor(ctx);
      const rows = status.services.map((s) => [s.name, s.state, s.health, `${s.replicas.running}/${s.replicas.desired}`, s.ports.join(', ') || s.url || '-']);
      ctx.stdout.write(table(['SERVICE', 'STATE', 'HEALTH', 'REPLICAS', 'URL / PORTS'], rows, style, (column, text) => (column === 1 || column === 2 ? paintState(style, text) : text)));
      // Why a service is down, where the user looks first.
      for (const s of status.services.filter((x) => x.last_exit_logs.length > 0 || (x.state === 'crash-looping' && x.last_exit))) {
        ctx.stdout.write(`\n${style.bold(s.name)}: ${s.last_exit ?? s.deployment?.reason ?? s.state}\n${s.last_exit_logs.map((l) => `  ${l}\n`).join('')}`);
      }
    });

  compose
    .command('logs')
    .description("The services' logs, each line prefixed with its service")
    .addHelpText('after', examples("berth compose logs --tail 50", "berth compose logs -f worker"))
    .argument('[service...]', 'only these')
    .option('-f, --follow', 'keep printing new lines until Ctrl-C')
    .option('--tail <n>', 'last lines of each service', integerIn(1, LIMITS.tail))
    .action(async (services: string[], options: { follow?: boolean; tail?: number }, command: Command) => {
      const { client, status } = await stackOf(command);
      await stackLogs(ctx, client, status, services, { follow: options.follow === true, ...(options.tail === undefined ? {} : { tail: options.tail }) });
    });

  for (const action of ['start', 'stop', 'restart'] as const) {
    compose
      .command(action)
      .description(`${action[0]?.toUpperCase()}${action.slice(1)} services (all without names); remembered across server restarts`)
      .addHelpText('after', examples(`berth compose ${action}`, `berth compose ${action} worker`))
      .argument('[service...]', 'only these')
      .action(async (services: string[], _options: unknown, command: Command) => {
        await act(ctx, await stackOf(command), services, action);
      });
  }

  compose
    .command('kill')
    .description('Send a signal to the running tasks of services (default SIGKILL, which stops them)')
    .addHelpText('after', examples("berth compose kill", "berth compose kill -s SIGHUP crossbar"))
    .argument('[service...]', 'only these')
    .option('-s, --signal <signal>', 'the signal', 'SIGKILL')
    .action(async (services: string[], options: { signal: string }, command: Command) => {
      await act(ctx, await stackOf(command), services, 'kill', { signal: options.signal });
    });

  compose
    .command('rm')
    .description('Remove stopped services; the next up makes them again')
    .addHelpText('after', examples("berth compose rm -f worker", "berth compose rm -s -f"))
    .argument('[service...]', 'only these')
    .option('-f, --force', 'do not ask')
    .option('-s, --stop', 'stop running services first')
    .action(async (services: string[], options: { force?: boolean; stop?: boolean }, command: Command) => {
      const target = await stackOf(command);
      const chosen = target.status.services.filter((s) => s.state !== 'not created' && (services.length > 0 ? services.includes(s.name) : options.stop || s.state !== 'running'));
      if (chosen.length === 0) return void ctx.stderr.write('berth: no stopped service to remove\n');
      if (!options.force && canPrompt(ctx) && !(await confirm(ctx, `Remove ${chosen.map((s) => s.name).join(', ')}?`))) return;
      await act(ctx, target, chosen.map((s) => s.name), 'rm', { stop: options.stop === true });
    });

  compose
    .command('down')
    .description("Remove the stack: its services, networks and files (volumes with -v); waits until they are gone")
    .addHelpText('after', examples("berth compose down", "berth compose down -v --rmi local"))
    .option('-v, --volumes', "also remove the stack's named volumes")
    .option('--rmi <which>', "also remove the images the stack built from the local engine ('all' or 'local': berth removes only images it built)")
    .option('--timeout <seconds>', `bound on the wait (default ${DEFAULT_DOWN_WAIT_SECONDS})`, positiveNumber)
    .action(async (options: { volumes?: boolean; rmi?: string; timeout?: number }, command: Command) => {
      if (options.rmi !== undefined && options.rmi !== 'all' && options.rmi !== 'local') throw new UsageError("--rmi takes 'all' or 'local'");
      const project = await projectOf(ctx, command);
      const client = await connect(ctx);
      await client.stacks.down(project.stack, { volumes: options.volumes === true });
      ctx.stderr.write(`berth: taking ${project.stack} down…\n`);
      await waitUntilGone(client, project.stack, (options.timeout ?? DEFAULT_DOWN_WAIT_SECONDS) * 1000);
      if (options.rmi !== undefined) {
        for (const service of project.spec.services.filter((s) => s.build !== null)) {
          const name = localImageName(project, service);
          if ((await dockerOutput(['image', 'inspect', '--format', '{{.Id}}', name])) !== null) await docker('rmi', ['rmi', name], 60_000);
        }
      }
      ctx.stderr.write(`berth: ${project.stack} removed${options.volumes ? ' with its volumes' : ''}\n`);
    });

  compose
    .command('run')
    .description("Run a one-off command with a service's image, environment and networks, as a job")
    .addHelpText('after', examples("berth compose run web python manage.py migrate", "berth compose run -d worker sh -c 'process --all'"))
    .argument('<service>', 'the service')
    .argument('[command...]', 'the command (default: the service’s)')
    .option('--rm', 'accepted for compose compatibility: a job keeps no container after it ends')
    .option('-d, --detach', 'print the job id and return')
    .action(async (service: string, words: string[], options: { detach?: boolean }, command: Command) => {
      const { client, status } = await stackOf(command);
      const member = status.services.find((s) => s.name === service);
      if (!member || member.state === 'not created') throw new UsageError(`'${service}' is no running service of this stack: run berth compose up ${service} first`);
      const created = await client.createJob({ service: member.service, ...(words.length > 0 ? { command: words } : {}) });
      if (options.detach) return void ctx.stdout.write(`${created.id}\n`);
      const job = await followToTheEnd(ctx, client, created.id, ctx.stdout);
      if (job.status !== 'succeeded') throw new CliError('BERTH_JOB_FAILED', `job ${job.id} ${job.status}: ${job.reason ?? job.status}`, job.exit_code ?? 1);
    });
}

async function act(ctx: CliContext, target: { client: BerthClient; stack: string; status: StackStatus }, services: readonly string[], action: StackServiceAction, options: { signal?: string; stop?: boolean } = {}): Promise<void> {
  const known = target.status.services.filter((s) => s.state !== 'not created');
  for (const name of services) if (!known.some((s) => s.name === name)) throw new UsageError(`'${name}' is no service of stack ${target.stack} that up has made`);
  for (const service of services.length > 0 ? services : known.map((s) => s.name)) {
    const after = await target.client.stacks.act(target.stack, service, action, options);
    ctx.stderr.write(`${service}: ${action === 'kill' ? `${options.signal ?? 'SIGKILL'} sent` : action === 'rm' ? 'removing' : after.state}\n`);
  }
}

async function waitUntilGone(client: BerthClient, stack: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const present = await client.stacks.list();
    if (!present.some((s) => s.name === stack)) return;
    await new Promise((resolve) => setTimeout(resolve, DOWN_POLL_MS));
  }
  throw new CliError('BERTH_TIMEOUT', `${stack} is still being taken down after ${Math.round(timeoutMs / 1000)} s; see berth compose ps`);
}
