import type { Command } from 'commander';
import type { BerthClient, ServiceStatusDoc, ServiceSummaryDoc } from '../../client/index.js';
import { connect } from '../config.js';
import type { CliContext } from '../context.js';
import { examples, paintState, table } from '../output.js';
import { printServiceRows, serviceDocs } from '../service-docs.js';

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
      printServiceRows(ctx, rows, options.json, (style) => {
        const cells = rows.map((r) => [r.name, r.status, r.revision === null ? '-' : String(r.revision), r.image ?? '-', `${r.running}/${r.desired}`, r.url ?? '-']);
        return table(['NAME', 'STATUS', 'REVISION', 'IMAGE', 'RUNNING/DESIRED', 'URL'], cells, style, (column, text) => (column === 1 ? paintState(style, text) : text));
      });
    });
}

async function serviceRows(client: BerthClient): Promise<ServiceRow[]> {
  return (await serviceDocs(client)).map(({ summary, doc }) => toRow(summary, doc));
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
