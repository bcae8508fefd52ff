import type { ServiceStatusDoc } from '../client/index.js';
import { paintState, shortTime, table, type Style } from './output.js';

/** Events shown in the report; the document carries more, `berth events` shows all. */
const EVENTS_SHOWN = 10;

/** The status document as a person reads it: summary first, then tasks, targets and recent events. */
export function renderStatus(doc: ServiceStatusDoc, style: Style): string {
  const { status } = doc;
  const url = doc.links.find((l) => l.rel === 'deployment')?.href ?? '-';
  const lines: string[] = [];
  const field = (label: string, value: string): void => {
    lines.push(`${style.bold(label.padEnd(11))}${value}`);
  };

  field('Service', `${doc.name}  ${paintState(style, status.service_status)}`);
  field('URL', url);
  if (status.live_colour !== undefined) field('Live', `colour ${status.live_colour} (the rest below is its status)`);
  field('Revision', status.current_revision === null ? '- (nothing deployed yet)' : String(status.current_revision));
  field('Tasks', `${status.count_running} running / ${status.count_desired} desired${status.count_pending > 0 ? `, ${status.count_pending} pending` : ''}`);
  const d = status.deployment;
  if (d) {
    const outcome = d.finished ? `${paintState(style, d.step)}${d.reason ? `: ${d.reason}` : ''}` : `${style.yellow(d.step)} (${d.step_description}, since ${shortTime(d.step_started_at)})`;
    field('Deployment', `${d.id} of revision ${d.revision}: ${outcome}`);
  }
  if (status.crash_looping) {
    lines.push(style.red(`! crash-looping: tasks keep exiting${status.last_exit ? `; last exit: ${status.last_exit}` : ''}`));
    for (const line of status.last_exit_logs) lines.push(`  ${style.dim('│')} ${line}`);
  } else if (status.last_exit) {
    field('Last exit', status.last_exit);
  }

  if (status.colours !== undefined) {
    lines.push('', `${style.bold('COLOURS')}  any colour at ${url} with the header 'X-Berth-Colour: NAME' or the cookie berth_colour=NAME`);
    const rows = status.colours.map((c) => [c.colour, c.live ? 'live' : '-', c.current_revision === null ? '-' : String(c.current_revision), `${c.count_running}/${c.count_desired}`, c.deployment ? c.deployment.step : '-']);
    lines.push(indent(table(['COLOUR', 'LIVE', 'REVISION', 'RUNNING/DESIRED', 'DEPLOYMENT'], rows, style, (column, text) => (column === 4 ? paintState(style, text) : text))));
  }

  lines.push('', style.bold('TASKS'));
  if (status.tasks.length === 0) lines.push('  none');
  else {
    const healthOf = new Map(status.target_health.targets.map((t) => [t.task_name, t.health]));
    // The node of each task (NMPI's Node column), and why a pending one waits (no node has
    // room…), when the server knows them.
    const nodes = status.tasks.some((t) => t.node !== undefined);
    const waits = status.tasks.some((t) => t.waiting !== undefined);
    const rows = status.tasks.map((t) => [
      t.task_name,
      String(t.task_definition.revision),
      t.last_status,
      healthOf.get(t.task_name) ?? '-',
      ...(nodes ? [t.node ?? '-'] : []),
      t.task_definition.container_image,
      ...(waits ? [t.waiting ?? ''] : []),
    ]);
    const headers = ['NAME', 'REVISION', 'STATUS', 'HEALTH', ...(nodes ? ['NODE'] : []), 'IMAGE', ...(waits ? ['WAITING'] : [])];
    lines.push(indent(table(headers, rows, style, (column, text) => (column === 2 || column === 3 ? paintState(style, text) : text))));
  }

  const th = status.target_health;
  lines.push('', `${style.bold('TARGET HEALTH')}  ${th.health_check_path} every ${th.interval} s, healthy on ${th.status_codes}`);
  if (th.targets.length === 0) lines.push('  no targets');
  else {
    const rows = th.targets.map((t) => [`${t.target}:${t.port}`, t.task_name, t.health, t.description ?? '']);
    lines.push(indent(table(['TARGET', 'TASK', 'HEALTH', 'DESCRIPTION'], rows, style, (column, text) => (column === 2 ? paintState(style, text) : text))));
  }

  lines.push('', style.bold('EVENTS'));
  // The document lists events newest first; a report reads better oldest first, ending with the latest.
  const events = status.events.slice(0, EVENTS_SHOWN).reverse();
  if (events.length === 0) lines.push('  none');
  for (const e of events) lines.push(`  ${style.dim(shortTime(e.created_at))}  ${e.colour === undefined ? '' : `[${e.colour}] `}${e.message}`);
  return `${lines.join('\n')}\n`;
}

function indent(block: string): string {
  return block
    .trimEnd()
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n');
}
