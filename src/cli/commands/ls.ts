import type { Command } from 'commander';
import { BerthApiError, type BerthClient, type ServiceStatusDoc, type ServiceSummaryDoc } from '../../client/index.js';
import { connect } from '../config.js';
import type { CliContext } from '../context.js';
import { examples, paintState, printJson, styleFor, table } from '../output.js';

/** Status requests in flight at once: quick for a few dozen services, gentle on the server. */
const PARALLEL = 6;

export interface ServiceRow {
  name: string;
  status: string;
  revision: number | null;
  image: string | null;
  running: number;
  desired: number;
  url: string | null;
}

export function registerLs(program: Command, ctx: CliContext): void {
  program
    .command('ls')
    .alias('list')
    .description("List the project's services with their status")
    .option('--json', 'print [{name, status, revision, image, running, desired, url}]')
    .addHelpText('after', examples('berth ls', 'berth ls --json | jq -r \'.[] | select(.running < .desired) | .name\''))
    .action(async (options: { json?: boolean }) => {
      const rows = await serviceRows(await connect(ctx));
      if (options.json) {
        printJson(ctx.stdout, rows);
        return;
      }
      if (rows.length === 0) {
        ctx.stdout.write("No services yet; create one with 'berth create NAME'\n");
        return;
      }
      const style = styleFor(ctx);
      const cells = rows.map((r) => [r.name, r.status, r.revision === null ? '-' : String(r.revision), r.image ?? '-', `${r.running}/${r.desired}`, r.url ?? '-']);
      ctx.stdout.write(table(['NAME', 'STATUS', 'REVISION', 'IMAGE', 'RUNNING/DESIRED', 'URL'], cells, style, (column, text) => (column === 1 ? paintState(style, text) : text)));
    });
}

async function serviceRows(client: BerthClient): Promise<ServiceRow[]> {
  const services = await client.listServices();
  const rows = await mapLimit(services, PARALLEL, async (summary) => {
    try {
      return toRow(summary, await client.getService(summary.name));
    } catch (error) {
      // Deleted between the list and its status call: it is gone, so it is not listed.
      if (error instanceof BerthApiError && error.status === 404) return null;
      throw error;
    }
  });
  return rows.filter((r): r is ServiceRow => r !== null);
}

function toRow(summary: ServiceSummaryDoc, doc: ServiceStatusDoc): ServiceRow {
  const { status } = doc;
  const current = status.tasks.find((t) => t.task_definition.revision === status.current_revision) ?? status.tasks[0];
  return {
    name: summary.name,
    status: status.crash_looping ? 'CRASH-LOOPING' : status.service_status,
    revision: status.current_revision,
    image: current?.task_definition.container_image ?? null,
    running: status.count_running,
    desired: status.count_desired,
    url: summary.links.find((l) => l.rel === 'deployment')?.href ?? null,
  };
}

/** Like Promise.all over `items`, with at most `limit` calls of `fn` pending. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
