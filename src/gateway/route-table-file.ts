import { mkdir, readdir, rm } from 'node:fs/promises';
import { isIP } from 'node:net';
import { dirname, join } from 'node:path';
import { isColourName } from '../domain/colours.js';
import { GatewayRoutesRejectedError } from './errors.js';
import type { Route, RouteRejection, Target } from './gateway.js';
import { readLinkIfExists, type WorkerFiles } from './worker-files.js';

/** One path segment: the module keys a request by the first segment of its $uri. */
const PREFIX = /^\/[A-Za-z0-9._~-]{1,127}$/;
const TABLE_NAME = /^table\.(\d+)$/;

/** A table as berth's nginx module reads it, and the routes left out of it. */
export interface RenderedTable {
  readonly text: string;
  readonly rejected: readonly RouteRejection[];
}

/** The first line of a table that uses format 2 (colours); a table without it is format 1. */
export const FORMAT_2 = '#berth-routes 2\n';

/**
 * The table as berth's nginx module reads it (src/gateway/nginx-module): a line per route,
 * its prefix and then its targets, "/exp-2-web 172.17.0.5:8080 [fd00::5]:8080" ("/exp-2-ui strip
 * 172.17.0.6:3000" for one whose targets get the path without the prefix). A route the
 * module would refuse (a bad prefix or target, a prefix taken by an earlier route) is left out
 * and reported, so one bad route never keeps the table from every other service.
 *
 * A route with colours adds a line per colour after its own, "/exp-2-web/green 172.17.0.6:8080"
 * (a key no request path can produce: the module keys a path by its first segment only), and
 * the table then begins with FORMAT_2, so that a module that knows only format 1 refuses it
 * whole instead of misreading it. A table without colours is format 1, byte for byte as before.
 */
export function renderRouteTable(routes: readonly Route[]): RenderedTable {
  const seen = new Set<string>();
  const lines: string[] = [];
  const rejected: RouteRejection[] = [];
  let coloured = false;
  routes.forEach((route, index) => {
    try {
      lines.push(routeLines(route, seen));
      coloured ||= (route.colours ?? []).length > 0;
    } catch (error) {
      if (!(error instanceof GatewayRoutesRejectedError)) throw error;
      rejected.push({ index, prefix: route.prefix, reason: error.message });
    }
  });
  return { text: (coloured ? FORMAT_2 : '') + lines.join(''), rejected };
}

/** The route's lines; the reason a route is refused names the part of it at fault. */
function routeLines(route: Route, seen: Set<string>): string {
  if (!PREFIX.test(route.prefix)) {
    throw new GatewayRoutesRejectedError(
      `prefix must be '/' and one path segment of at most 127 letters, digits and ._~-, not '${route.prefix.slice(0, 140)}'`,
    );
  }
  if (seen.has(route.prefix)) throw new GatewayRoutesRejectedError(`prefix ${route.prefix} is already the route of another service`);
  const lines = [line(route.prefix, route.stripPrefix, route.targets, 'targets')];
  const colours = new Set<string>();
  (route.colours ?? []).forEach(({ colour, targets }, at) => {
    if (!isColourName(colour) || colours.has(colour)) {
      throw new GatewayRoutesRejectedError(`colours[${at}].colour must be a lower-case word of 1 to 16 letters, once per route, not '${colour.slice(0, 20)}'`);
    }
    colours.add(colour);
    lines.push(line(`${route.prefix}/${colour}`, route.stripPrefix, targets, `colours[${at}].targets`));
  });
  seen.add(route.prefix);
  return lines.join('');
}

/** A line of the table: its key, `strip` for a route whose targets get the path without the prefix, its targets. */
function line(key: string, strip: boolean | undefined, targets: readonly Target[], where: string): string {
  return `${[key, ...(strip ? ['strip'] : []), ...targets.map((target, at) => peer(target, `${where}[${at}]`))].join(' ')}\n`;
}

function peer(target: Target, where: string): string {
  const family = isIP(target.host);
  // A zone index ("fe80::1%eth0") is nothing nginx can parse.
  if (family === 0 || target.host.includes('%')) {
    throw new GatewayRoutesRejectedError(`${where}.host must be an IPv4 or IPv6 address, not '${target.host}'`);
  }
  if (!Number.isInteger(target.port) || target.port < 1 || target.port > 65535) {
    throw new GatewayRoutesRejectedError(`${where}.port must be an integer between 1 and 65535, not ${target.port}`);
  }
  return family === 6 ? `[${target.host}]:${target.port}` : `${target.host}:${target.port}`;
}

/**
 * The route table files beside the link the module reads. Each table is written under a new
 * name (table.<n>) and the link is then renamed over, so a worker reads the old table or the
 * new one, whole, and a kill at any point leaves the previous table in force.
 */
export class RouteTableFile {
  private readonly dir: string;

  constructor(
    private readonly link: string,
    private readonly files: WorkerFiles,
  ) {
    this.dir = dirname(link);
  }

  async write(text: string): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const before = await readdir(this.dir);
    const current = await readLinkIfExists(this.link);
    const name = `table.${1 + Math.max(0, ...before.map(tableNumber))}`;
    await this.files.write(join(this.dir, name), text);
    await this.files.link(name, this.link);
    // The table just replaced stays: a worker that read the link a moment ago may open it yet.
    const stale = before.filter((entry) => entry !== current && (TABLE_NAME.test(entry) || entry.endsWith('.tmp')));
    await Promise.all(stale.map((entry) => rm(join(this.dir, entry), { force: true })));
  }
}

function tableNumber(entry: string): number {
  const match = TABLE_NAME.exec(entry);
  return match ? Number(match[1]) : 0;
}
