import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';
import { BenchServer } from './lib/bench-server.js';
import type { BenchContext } from './lib/context.js';
import { nowMs } from './lib/process.js';
import { paired } from './lib/stats.js';
import { deployAll } from './scale.js';

const run = promisify(execFile);

// Ports 17796-17799.
const BASE_PORT = 17796;
const SERVICES = 100;
const REPO = join(import.meta.dirname, '..');

export interface DashboardOptions {
  readonly runs: number;
}

/**
 * The dashboard's first load on a project with 100 deployed services, in Debian's headless
 * Chromium: from navigating to the page (signed in) to the list of services, and to every
 * service's state filled in; against `berth ls`, the CLI's list of the same services, in the
 * same run. A fresh page each round, so nothing is cached.
 */
export async function runDashboard(ctx: BenchContext, options: DashboardOptions): Promise<void> {
  await ctx.scoped(async (scope) => {
    ctx.log('dashboard: starting a server');
    const server = await BenchServer.start({ basePort: BASE_PORT });
    scope.defer('dashboard server', () => server.destroy());
    const api = await server.admin.project('bench-ui');
    ctx.log(`dashboard: deploying ${SERVICES} services`);
    await deployAll(api, Array.from({ length: SERVICES }, (_, i) => `svc-${String(i).padStart(3, '0')}`));
    const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
    scope.defer('chromium', () => browser.close());
    const context = await browser.newContext();
    const signIn = await context.request.post(`${server.admin.base}/ui/session`, { data: { token: api.token } });
    if (!signIn.ok()) throw new Error(`signing in answered ${signIn.status()}`);

    const listTimes: number[] = [];
    const filledTimes: number[] = [];
    const cliTimes: number[] = [];
    for (let round = 0; round <= options.runs; round++) {
      const page = await context.newPage();
      const t0 = nowMs();
      await page.goto(`${server.admin.base}/ui/`);
      await page.locator('table.list tbody tr').nth(SERVICES - 1).waitFor({ timeout: 30_000 });
      const list = nowMs() - t0;
      await page.waitForFunction(() => !document.querySelector('table.list')?.textContent?.includes('…'), undefined, { timeout: 30_000 });
      const filled = nowMs() - t0;
      await page.close();
      const c0 = nowMs();
      await run(process.execPath, [join(REPO, 'bin/berth.js'), 'ls'], { env: { ...process.env, BERTH_URL: server.admin.base, BERTH_TOKEN: api.token, NO_COLOR: '1' } });
      const cli = nowMs() - c0;
      ctx.log(`dashboard: round ${round}${round === 0 ? ' (warm-up)' : ''}: list ${list.toFixed(0)} ms, every state ${filled.toFixed(0)} ms; berth ls ${cli.toFixed(0)} ms`);
      if (round === 0) continue;
      listTimes.push(list);
      filledTimes.push(filled);
      cliTimes.push(cli);
    }
    ctx.record({
      bench: 'dashboard',
      name: `first load → the list of ${SERVICES} services`,
      unit: 'ms',
      values: listTimes,
      baseline: cliTimes,
      comparisons: paired(listTimes, cliTimes, (x, y) => x / y),
      goal: { kind: 'info' },
      note: 'headless Chromium, a fresh page each round; baseline: berth ls of the same services',
    });
    ctx.record({
      bench: 'dashboard',
      name: `first load → every one of ${SERVICES} services' state shown`,
      unit: 'ms',
      values: filledTimes,
      baseline: cliTimes,
      comparisons: paired(filledTimes, cliTimes, (x, y) => x / y),
      goal: { kind: 'info' },
      note: 'a status request per service, as the overview makes them',
    });
  });
}
