import type { Command } from 'commander';
import type { ServiceStatusDoc } from '../../client/index.js';
import { connect } from '../config.js';
import type { CliContext } from '../context.js';
import { examples, paintState, table } from '../output.js';
import { printServiceRows, serviceDocs } from '../service-docs.js';

type StatusFields = Omit<ServiceStatusDoc['status'], 'live_colour' | 'colours'>;

/** One row of NMPI's `deploy.py services` table: a service, or one colour of a service. */
export interface ServicesRow {
  /** `nmpi-blue` for a colour, the service's name otherwise. */
  name: string;
  service: string;
  colour: string | null;
  /** Whether the colour serves live traffic; null for a service without colours. */
  live: boolean | null;
  image: string | null;
  status: string;
  url: string | null;
  /** The running tasks of the revision served. */
  ids: string[];
  /** Where the running tasks run: their nodes, comma-separated ('local' when the server tells none). */
  node: string;
  /** The container ports the gateway sends to. */
  ports: string[];
}

export function registerServices(program: Command, ctx: CliContext): void {
  program
    .command('services')
    .description('List every service and every colour of one, as NMPI’s deploy.py does: name, image, status, URL, id, node, ports')
    .option('--json', 'print [{name, service, colour, live, image, status, url, ids, node, ports}]')
    .addHelpText('after', examples('berth services', "berth services --json | jq -r '.[] | select(.live == false) | .name'"))
    .action(async (options: { json?: boolean }) => {
      const rows = (await serviceDocs(await connect(ctx))).flatMap(({ summary, doc }) => servicesRows(summary.name, doc));
      printServiceRows(ctx, rows, options.json, (style) => {
        // A colour that runs and serves live traffic is "live"; one that runs beside it, "running".
        const cells = rows.map((r) => [r.name, r.image ?? '-', r.live && r.status === 'running' ? 'live' : r.status, r.url ?? '-', r.ids.join(',') || '-', r.node, r.ports.join(',') || '-']);
        const paint = (column: number, text: string): string => (column !== 2 ? text : text.trim() === 'live' ? style.green(text) : paintState(style, text));
        return table(['NAME', 'IMAGE', 'STATUS', 'URL', 'ID', 'NODE', 'PORTS'], cells, style, paint);
      });
    });
}

/** A service's rows: itself, or each of its colours. */
export function servicesRows(service: string, doc: ServiceStatusDoc): ServicesRow[] {
  const url = doc.links.find((l) => l.rel === 'deployment')?.href ?? null;
  const colours = doc.status.colours;
  if (colours === undefined) return [row(service, service, null, null, doc.status, url)];
  return colours.map((c) => row(`${service}-${c.colour}`, service, c.colour, c.live, c, url));
}

function row(name: string, service: string, colour: string | null, live: boolean | null, status: StatusFields, url: string | null): ServicesRow {
  const serving = status.tasks.filter((t) => t.task_definition.revision === status.current_revision && t.desired_status === 'RUNNING');
  const running = serving.filter((t) => t.last_status === 'RUNNING');
  return {
    name,
    service,
    colour,
    live,
    image: (serving[0] ?? status.tasks[0])?.task_definition.container_image ?? null,
    status: stateOf(status),
    url,
    ids: running.map((t) => t.task_name),
    node: [...new Set(running.map((t) => t.node).filter((n) => n !== undefined))].join(',') || 'local',
    ports: [...new Set(serving.map((t) => `${t.task_definition.container_port}/tcp`))],
  };
}

function stateOf(status: StatusFields): string {
  if (status.service_status === 'DRAINING') return 'removing';
  if (status.crash_looping) return 'crash-looping';
  if (status.deployment && !status.deployment.finished) return 'deploying';
  if (status.count_running > 0) return 'running';
  return status.current_revision === null ? 'not deployed' : 'stopped';
}
