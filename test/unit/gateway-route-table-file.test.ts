import { mkdtemp, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Route } from '../../src/gateway/gateway.js';
import { renderRouteTable, RouteTableFile } from '../../src/gateway/route-table-file.js';
import { WorkerFiles } from '../../src/gateway/worker-files.js';

describe('renderRouteTable', () => {
  it('writes a line per route: its prefix, then its targets, IPv6 in brackets', () => {
    const routes: Route[] = [
      { prefix: '/exp-2-web', targets: [{ host: '172.17.0.5', port: 8080 }, { host: 'fd00::5', port: 80 }] },
      { prefix: '/exp-down', targets: [] },
    ];
    expect(renderRouteTable(routes)).toEqual({ text: '/exp-2-web 172.17.0.5:8080 [fd00::5]:80\n/exp-down\n', rejected: [] });
    expect(renderRouteTable([])).toEqual({ text: '', rejected: [] });
  });

  it('leaves out what the module could not route by, saying where, and keeps every other route', () => {
    const target = { host: '10.0.0.1', port: 80 };
    const good: Route = { prefix: '/good', targets: [target] };
    const bad: [Route[], RegExp][] = [
      [[{ prefix: 'exp-web', targets: [] }], /prefix/],
      [[{ prefix: '/', targets: [] }], /prefix/],
      [[{ prefix: '/exp-web/x', targets: [] }], /prefix/],
      [[{ prefix: '/exp web', targets: [] }], /prefix/],
      [[{ prefix: `/${'a'.repeat(128)}`, targets: [] }], /prefix/],
      [[{ prefix: '/good', targets: [] }], /prefix \/good is already the route of another service/],
      [[{ prefix: '/a', targets: [target, { host: 'db.internal', port: 80 }] }], /targets\[1\]\.host/],
      [[{ prefix: '/a', targets: [{ host: 'fe80::1%eth0', port: 80 }] }], /targets\[0\]\.host/],
      [[{ prefix: '/a', targets: [{ host: '10.0.0.1', port: 0 }] }], /targets\[0\]\.port/],
      [[{ prefix: '/a', targets: [{ host: '10.0.0.1', port: 65536 }] }], /port/],
      [[{ prefix: '/a', targets: [{ host: '10.0.0.1', port: 80.5 }] }], /port/],
    ];
    for (const [routes, message] of bad) {
      const table = renderRouteTable([good, ...routes]);
      expect(table.text, JSON.stringify(routes)).toBe('/good 10.0.0.1:80\n');
      expect(table.rejected, JSON.stringify(routes)).toHaveLength(1);
      expect(table.rejected[0], JSON.stringify(routes)).toMatchObject({ index: 1, prefix: routes[0]?.prefix });
      expect(table.rejected[0]?.reason, JSON.stringify(routes)).toMatch(message);
    }
  });
});

describe('RouteTableFile', () => {
  let dir: string;
  let link: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-routes-'));
    link = join(dir, 'routes', 'current');
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const current = async (): Promise<string> => readFile(link, 'utf8');

  it('points the link at each new table, keeping only the one before it', async () => {
    const file = new RouteTableFile(link, new WorkerFiles());
    for (let n = 1; n <= 4; n += 1) await file.write(`/r${n}\n`);
    expect(await current()).toBe('/r4\n');
    expect(await readlink(link)).toBe('table.4');
    expect((await readdir(join(dir, 'routes'))).sort()).toEqual(['current', 'table.3', 'table.4']);
  });

  it('goes on after the tables already there, and clears what an interrupted write left', async () => {
    await new RouteTableFile(link, new WorkerFiles()).write('/first\n');
    const routes = join(dir, 'routes');
    // A kill after the table was written but before the link moved; and one mid-write.
    await writeFile(join(routes, 'table.7'), '/unlinked\n');
    await writeFile(join(routes, 'table.8.tmp'), '/half');
    await writeFile(join(routes, 'current.tmp'), 'stale');
    expect(await current()).toBe('/first\n');

    await new RouteTableFile(link, new WorkerFiles()).write('/next\n');
    expect(await readlink(link)).toBe('table.8');
    expect(await current()).toBe('/next\n');
    expect((await readdir(routes)).sort()).toEqual(['current', 'table.1', 'table.8']);
  });
});
