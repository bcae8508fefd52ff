import type { Command } from 'commander';
import { setTimeout as sleep } from 'node:timers/promises';
import type { BerthClient, NodeDocument } from '../../client/index.js';
import { connect } from '../config.js';
import type { CliContext } from '../context.js';
import { CliError, UsageError } from '../errors.js';
import { positiveNumber } from '../options.js';
import { examples, printJson, styleFor, table } from '../output.js';

const DRAIN_POLL_MS = 1_000;
const DEFAULT_DRAIN_WAIT_SECONDS = 600;

/** `berth node ls|join-command|drain|activate|rm|label` (admin token). */
export function registerNodes(program: Command, ctx: CliContext): void {
  const node = program.command('node').description('The machines tasks run on: a Docker Swarm’s nodes (needs the admin token)');
  node
    .command('ls')
    .alias('list')
    .description('Every node: name, id, address, status, availability, memory total and reserved, tasks')
    .option('--json', 'print the nodes document as the API sends it')
    .addHelpText('after', examples('BERTH_TOKEN=$ADMIN_TOKEN berth node ls', "berth node ls --json | jq -r '.nodes[] | select(.status != \"ready\") | .name'"))
    .action(async (options: { json?: boolean }) => {
      const doc = await (await connect(ctx)).nodes();
      if (options.json) {
        printJson(ctx.stdout, doc);
        return;
      }
      const style = styleFor(ctx);
      const rows = doc.nodes.map((n) => [
        `${n.name}${n.leader ? ' *' : ''}`,
        n.id.slice(0, 12),
        n.address || '-',
        n.status,
        n.availability,
        `${n.memory_reserved} / ${n.memory_total} MiB`,
        String(n.tasks),
        Object.entries(n.labels).map(([k, v]) => `${k}=${v}`).join(' '),
      ]);
      ctx.stdout.write(
        table(['NAME', 'ID', 'ADDRESS', 'STATUS', 'AVAILABILITY', 'MEMORY RESERVED', 'TASKS', 'LABELS'], rows, style, (column, text) =>
          (column === 3 && text !== 'ready') || (column === 4 && text !== 'active') ? style.red(text) : text,
        ),
      );
      if (doc.orchestrator === 'engine') ctx.stdout.write('berth runs on one Docker engine; make it a Swarm manager to add nodes (docs/server.md, "Nodes").\n');
    });
  node
    .command('join-command')
    .description('Print the command a new machine runs to join the Swarm')
    .option('--manager', 'join as a manager, not a worker')
    .addHelpText('after', examples('berth node join-command', 'ssh new-host "$(berth node join-command)"'))
    .action(async (options: { manager?: boolean }) => {
      const answer = await (await connect(ctx)).joinCommand(options.manager ? 'manager' : 'worker');
      ctx.stdout.write(`${answer.command}\n`);
    });
  node
    .command('drain')
    .description("Move the node's tasks to other nodes (new ones healthy first, so routed services fail no request), then drain it")
    .argument('<name>', 'a node name or id')
    .option('-d, --detach', 'return once the drain has begun')
    .option('--timeout <seconds>', 'give up waiting after this long', positiveNumber, DEFAULT_DRAIN_WAIT_SECONDS)
    .addHelpText('after', examples('berth node drain worker-2', 'berth node drain worker-2 -d'))
    .action(async (name: string, options: { detach?: boolean; timeout: number }) => {
      const client = await connect(ctx);
      const started = await client.drainNode(name);
      if (options.detach) {
        ctx.stdout.write(`draining ${started.name}: ${started.tasks} task(s) to move\n`);
        return;
      }
      await waitForDrain(ctx, client, started, options.timeout * 1000);
    });
  node
    .command('activate')
    .description('Let the node take tasks again (after a drain or a pause)')
    .argument('<name>', 'a node name or id')
    .addHelpText('after', examples('berth node activate worker-2'))
    .action(async (name: string) => {
      const n = await (await connect(ctx)).activateNode(name);
      ctx.stdout.write(`${n.name} is ${n.availability}\n`);
    });
  node
    .command('rm')
    .alias('remove')
    .description('Remove a node from the Swarm (drain it first; one still up needs --force)')
    .argument('<name>', 'a node name or id')
    .option('-f, --force', 'remove it even though it is still up')
    .addHelpText('after', examples('berth node drain worker-2 && berth node rm worker-2 --force'))
    .action(async (name: string, options: { force?: boolean }) => {
      const n = await (await connect(ctx)).removeNode(name, options.force ?? false);
      ctx.stdout.write(`removed ${n.name} (${n.id})\n`);
    });
  node
    .command('label')
    .description('Set labels (KEY=VALUE) or remove them (KEY-) on a node; --constraint node.labels.KEY==VALUE places tasks by them')
    .argument('<name>', 'a node name or id')
    .argument('<labels...>', 'KEY=VALUE to set, KEY- to remove')
    .addHelpText('after', examples('berth node label worker-2 gpu=yes', 'berth node label worker-2 gpu-'))
    .action(async (name: string, labels: string[]) => {
      const n = await (await connect(ctx)).labelNode(name, labelChanges(labels));
      ctx.stdout.write(`${n.name}: ${Object.entries(n.labels).map(([k, v]) => `${k}=${v}`).join(' ') || 'no labels'}\n`);
    });
}

export function labelChanges(words: readonly string[]): Record<string, string | null> {
  const changes: Record<string, string | null> = {};
  for (const word of words) {
    const eq = word.indexOf('=');
    if (eq > 0) changes[word.slice(0, eq)] = word.slice(eq + 1);
    else if (word.endsWith('-') && word.length > 1) changes[word.slice(0, -1)] = null;
    else throw new UsageError(`'${word}' is neither KEY=VALUE (set) nor KEY- (remove)`);
  }
  return changes;
}

/** Polls the node until Swarm drained it, telling how many tasks are left to move. */
async function waitForDrain(ctx: CliContext, client: BerthClient, node: NodeDocument, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let told = -1;
  let current = node;
  while (current.availability !== 'drain') {
    if (current.availability !== 'draining') throw new CliError('BERTH_NODE_DRAIN_STOPPED', `${current.name} is ${current.availability} now: the drain was stopped`);
    if (current.tasks !== told) {
      ctx.stdout.write(`draining ${current.name}: ${current.tasks} task(s) left to move\n`);
      told = current.tasks;
    }
    if (Date.now() >= deadline) throw new CliError('BERTH_TIMEOUT', `${current.name} still has ${current.tasks} task(s) after ${Math.round(timeoutMs / 1000)} s; the drain goes on (see berth node ls)`);
    await sleep(DRAIN_POLL_MS);
    current = await client.node(node.id);
  }
  ctx.stdout.write(`${styleFor(ctx).green('✓')} ${current.name} is drained; its tasks run on other nodes\n`);
}
