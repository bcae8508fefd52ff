import type { BerthClient, LogLine, StackStatus } from '../../../client/index.js';
import type { CliContext } from '../../context.js';
import { CliError } from '../../errors.js';
import { styleFor } from '../../output.js';
import { chronological, streamColours } from '../logs.js';

const POLL_MS = 100;

/** Finished steps of a deployment; the others mean it still runs. */
const FINISHED = new Set(['succeeded', 'failed', 'cancelled', 'superseded']);

/**
 * Waits until every deployment `up` started has finished, telling each service's steps as they
 * change; a deployment that failed is told with its reason and the service's last exit. Answers
 * the services whose deployment failed. Bounded by `timeoutMs`.
 */
export async function waitForStack(ctx: CliContext, client: BerthClient, stack: string, deployments: Readonly<Record<string, number>>, timeoutMs: number): Promise<string[]> {
  const pending = new Map(Object.entries(deployments));
  const told = new Map<string, string>();
  const failed: string[] = [];
  const style = styleFor(ctx, ctx.stderr);
  const deadline = Date.now() + timeoutMs;
  while (pending.size > 0) {
    const status = await client.stacks.get(stack);
    for (const service of status.services) {
      const id = pending.get(service.service);
      if (id === undefined || service.deployment?.id !== id) continue;
      const step = service.deployment.step;
      if (told.get(service.service) !== step) {
        told.set(service.service, step);
        ctx.stderr.write(`${style.bold(service.name)}: ${step === 'succeeded' ? style.green(step) : step === 'failed' ? style.red(step) : step}\n`);
      }
      if (!FINISHED.has(step)) continue;
      pending.delete(service.service);
      if (step !== 'succeeded') {
        failed.push(service.name);
        ctx.stderr.write(`  ${service.deployment.reason ?? 'no reason given'}\n`);
        if (service.last_exit) ctx.stderr.write(`  last exit: ${service.last_exit}\n`);
      }
    }
    if (pending.size === 0) break;
    if (Date.now() >= deadline) {
      throw new CliError('BERTH_TIMEOUT', `${[...pending.keys()].join(', ')} still deploying after ${Math.round(timeoutMs / 1000)} s; follow with berth compose ps`);
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  return failed;
}

/**
 * Every service's logs, each line prefixed with its service as compose does: the last `tail`
 * lines, then (with `follow`) new ones until Ctrl-C.
 */
export async function stackLogs(ctx: CliContext, client: BerthClient, status: StackStatus, names: readonly string[], options: { tail?: number; follow: boolean }): Promise<void> {
  const style = styleFor(ctx);
  const colourOf = streamColours(style);
  const chosen = status.services.filter((s) => s.state !== 'not created' && (names.length === 0 || names.includes(s.name)));
  const width = Math.max(0, ...chosen.map((s) => s.name.length));
  const print = (service: string) => (line: LogLine) => ctx.stdout.write(`${colourOf(service)(service.padEnd(width))} | ${line.message}\n`);
  if (!options.follow) {
    const lines = await Promise.all(chosen.map(async (s) => chronological(await client.logs(s.service, { tail: options.tail })).map((line) => ({ service: s.name, line }))));
    for (const { service, line } of lines.flat().sort((a, b) => Date.parse(a.line.time) - Date.parse(b.line.time))) print(service)(line);
    return;
  }
  const stop = new AbortController();
  const unsubscribe = ctx.onInterrupt(() => stop.abort());
  try {
    await Promise.all(chosen.map((s) => client.followLogs(s.service, { tail: options.tail, signal: stop.signal, onLine: print(s.name) })));
  } finally {
    unsubscribe();
  }
}
