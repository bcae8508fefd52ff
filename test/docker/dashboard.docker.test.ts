import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_IMAGE, definition, docker, startTestServer, waitFor, waitForDeployment, type ApiClient, type TestServer } from '../support/docker-harness.js';

// Ports 18660-18663 belong to this file.
const REPO = join(import.meta.dirname, '../..');
const SHOTS = join(REPO, 'test-artifacts', 'dashboard');
let t: TestServer;
let api: ApiClient;
let other: ApiClient;
let browser: Browser;

/** Debian's chromium, as the issue asks: no browser download. */
const CHROMIUM = { executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] };

beforeAll(async () => {
  execFileSync(process.execPath, [join(REPO, 'scripts/build-ui.mjs')]);
  execFileSync('bash', [join(REPO, 'scripts/build-redis-image.sh'), 'redis:7'], { stdio: 'pipe' });
  mkdirSync(SHOTS, { recursive: true });
  t = await startTestServer({ basePort: 18660, memoryCapacity: '2000' }, { sampleIntervalMs: 500 });
  api = await t.api.project('it-ui');
  other = await t.api.project('it-ui-other');
  await other.call('POST', '/services', { name: 'secret-svc' });
  await other.call('POST', '/databases', { name: 'secret-db', engine: 'redis', 'memory-reservation': 64, 'memory-limit': 128 });
  browser = await chromium.launch(CHROMIUM);
});

afterAll(async () => {
  await browser?.close();
  const instance = t?.server.instance;
  await t?.destroy();
  // A database's volume outlives its task on purpose; the test's go with it.
  const volumes = instance ? docker('volume', 'ls', '-q', '--filter', `label=io.berth.instance=${instance}`) : '';
  if (volumes) docker('volume', 'rm', ...volumes.split('\n'));
});

/**
 * Chromium fails requests in flight when the machine's network interfaces change (the engine
 * makes one for every project's tasks, in this test and in those running beside it); the page
 * sends reads again and follows streams again, so those messages are the machine's, not the page's.
 */
function isNetworkChange(message: string): boolean {
  return message.includes('net::ERR_NETWORK_CHANGED');
}

async function signIn(page: Page, token: string): Promise<void> {
  await page.goto(`${api.base}/ui/`);
  // With the keyboard only: the field takes focus by itself (once drawn, which a busy machine
  // can delay past the field's appearing), Enter submits.
  await page.waitForFunction(() => document.activeElement?.id === 'token', undefined, { timeout: 10_000 });
  await page.keyboard.type(token);
  await page.keyboard.press('Enter');
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
}

describe('the dashboard, in headless Chromium', () => {
  it('signs in, shows a service go from deploying to healthy live, follows its logs, and signs out', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => m.type() === 'error' && !isNetworkChange(m.text()) && errors.push(m.text()));
    await signIn(page, api.token);
    await api.call('POST', '/services', { name: 'web', health_check: { interval: 1 } });
    await page.reload();
    await page.getByRole('link', { name: 'web' }).click();
    await page.getByRole('heading', { name: /web/ }).waitFor();

    const put = await api.call('PUT', '/services/web', definition({ image: DEMO_IMAGE }));
    // The page is told, not polling: the events arrive over server-sent events.
    await page.getByText(/deployment of revision 1 started/).waitFor({ timeout: 30_000 });
    await page.getByText(/deployment of revision 1 finished/).waitFor({ timeout: 30_000 });
    expect((await waitForDeployment(api, 'web', put.json.deployment)).step).toBe('succeeded');
    await page.locator('table.list').getByText('healthy').first().waitFor({ timeout: 15_000 });
    await page.screenshot({ path: join(SHOTS, 'service-healthy.png'), fullPage: true });

    await page.getByRole('button', { name: 'Follow logs' }).click();
    for (let i = 0; i < 3; i++) await fetch(`${t.gatewayUrl}/it-ui-web/from-the-test-${i}`);
    await page.locator('pre.logs').getByText(/url:\/it-ui-web\/from-the-test-2/).waitFor({ timeout: 15_000 });
    // The charts fill from the gateway's counts and the engine's memory figures.
    await page.getByText(/Memory: \d+\.\d+ MiB/).waitFor({ timeout: 15_000 });
    await page.screenshot({ path: join(SHOTS, 'service-logs.png'), fullPage: true });

    expect(errors).toEqual([]);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.locator('#token').waitFor();
    // Signed out for real: the API no longer takes the cookie.
    expect(await page.evaluate(async () => (await fetch('/services')).status)).toBe(403);
    await page.close();
  });

  it('moves a job’s progress bar as the job reports progress', async () => {
    const page = await browser.newPage();
    await signIn(page, api.token);
    const script = 'for i in 1 2 3 4; do echo "BERTH-PROGRESS $i/4 step $i"; sleep 1; done; echo done';
    const job = await api.call('POST', '/jobs', { image: DEMO_IMAGE, command: ['sh', '-c', script], 'memory-limit': 32 });
    await page.goto(`${api.base}/ui/#/jobs/${job.json.id}`);
    const bar = page.getByRole('progressbar');
    await bar.waitFor({ timeout: 20_000 }).catch(async (error: unknown) => {
      const status = (await api.call('GET', `/jobs/${job.json.id}`)).json;
      throw new Error(`no progress bar: the page showed ${JSON.stringify(await page.locator('main').textContent())}; the job: ${JSON.stringify(status)}`, { cause: error });
    });
    const seen = new Set<string>();
    for (let i = 0; i < 200 && !seen.has('100'); i++) {
      seen.add((await bar.getAttribute('aria-valuenow')) ?? '');
      await page.waitForTimeout(50);
    }
    // It advanced through at least one value between the start and the end.
    expect([...seen].filter((v) => v !== '' && v !== '100').length).toBeGreaterThan(0);
    expect(seen.has('100')).toBe(true);
    await page.getByText('succeeded').first().waitFor({ timeout: 15_000 });
    await page.screenshot({ path: join(SHOTS, 'job-progress.png'), fullPage: true });
    await page.close();
  });

  it('shows a service’s colours and moves live traffic from one to the other and back', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => m.type() === 'error' && !isNetworkChange(m.text()) && errors.push(m.text()));
    await api.call('POST', '/services', { name: 'shop', health_check: { rel_path: '/health', interval: 1 } });
    for (const colour of ['blue', 'green']) {
      const put = await api.call('PUT', `/services/shop?colour=${colour}`, definition({ environment: [{ name: 'GREETING', value: colour }] }));
      expect((await waitForDeployment(api, 'shop', put.json.deployment)).step).toBe('succeeded');
    }
    /** The greeting of the colour the gateway serves live traffic from. */
    const served = async () => (await (await fetch(`${t.gatewayUrl}/it-ui-shop/`)).text()).split(' ')[0];
    expect(await served()).toBe('blue');

    await signIn(page, api.token);
    await page.goto(`${api.base}/ui/#/services/shop`);
    const colours = page.getByRole('region', { name: 'Colours' });
    const row = (colour: string) => colours.getByRole('row', { name: new RegExp(`^${colour} `) });
    await row('blue').locator('.live-mark').waitFor({ timeout: 15_000 });
    expect(await row('green').locator('.live-mark').count()).toBe(0);
    // The live colour has nothing to switch to; the other one does.
    expect(await row('blue').getByRole('button').count()).toBe(0);
    await page.screenshot({ path: join(SHOTS, 'colours-blue-live.png'), fullPage: true });

    await row('green').getByRole('button', { name: 'Switch to green' }).click();
    // Nothing moves until confirmed; Cancel leaves blue live.
    await row('green').getByRole('button', { name: 'Cancel' }).click();
    expect(await served()).toBe('blue');
    await row('green').getByRole('button', { name: 'Switch to green' }).click();
    await row('green').getByRole('button', { name: 'Switch now' }).click();
    // The page sees the switch over its live stream, as every client would.
    await row('green').locator('.live-mark').waitFor({ timeout: 10_000 });
    expect(await row('blue').locator('.live-mark').count()).toBe(0);
    await colours.getByRole('status').getByText(/moved from blue to green in [\d.]+ ms/).waitFor();
    expect(await served()).toBe('green');
    await page.getByRole('region', { name: 'Events' }).getByText(/switched live traffic from blue to green/).waitFor({ timeout: 10_000 });
    await page.screenshot({ path: join(SHOTS, 'colours-green-live.png'), fullPage: true });

    // A refusal for having no healthy task (answered here by the test: a real one needs a colour
    // berth has not yet replaced) offers to switch anyway, which sends force as the CLI's --force.
    const sent: unknown[] = [];
    await page.route('**/services/shop/switch', async (route) => {
      sent.push(route.request().postDataJSON());
      if (sent.length === 1) await route.fulfill({ status: 409, json: { Error: "colour 'blue' of shop has no healthy task: shop-blue-0000: unhealthy", code: 'BERTH_COLOUR_UNHEALTHY' } });
      else await route.continue();
    });
    await row('blue').getByRole('button', { name: 'Switch to blue' }).click();
    await row('blue').getByRole('button', { name: 'Switch now' }).click();
    await colours.getByRole('alert').getByText(/has no healthy task/).waitFor();
    expect(await served()).toBe('green');
    await row('blue').getByRole('button', { name: 'Switch anyway' }).click();
    await row('blue').locator('.live-mark').waitFor({ timeout: 10_000 });
    expect(await served()).toBe('blue');
    expect(sent).toEqual([{ colour: 'blue' }, { colour: 'blue', force: true }]);
    const audit = (await t.api.call('GET', '/audit?limit=100')).json.entries.filter((e: { action: string }) => e.action === 'service.switch');
    // Newest first, each the project's own doing through its dashboard session.
    expect(audit.map((e: { actor: string; detail: string }) => [e.actor.split(' ')[0], e.detail])).toEqual([
      ['project:it-ui', 'from green to blue, forced'],
      ['project:it-ui', 'from blue to green'],
    ]);
    // The refusal the test answered is the only failed request the browser saw.
    expect(errors.filter((e) => !/status of 409/.test(e))).toEqual([]);
    await page.close();
  });

  it('lists the databases with whether their last backup was proven by restoring it', async () => {
    expect((await api.call('POST', '/databases', { name: 'cache', engine: 'redis', 'memory-reservation': 64, 'memory-limit': 128 })).status).toBe(201);
    await waitFor('cache ready', async () => (await api.call('GET', '/databases/cache')).json.status === 'ready', 60_000, 250);
    const backup = (await api.call('POST', '/databases/cache/backups')).json;
    await waitFor('the backup verified', async () => (await api.call('GET', `/databases/cache/backups/${backup.id}`)).json.status === 'verified', 60_000, 250);
    const page = await browser.newPage();
    await signIn(page, api.token);
    const row = page.getByRole('region', { name: 'Databases' }).getByRole('row', { name: /^cache / });
    await row.getByText('verified').waitFor({ timeout: 15_000 });
    expect(await row.textContent()).toMatch(/cache redis.*ready.*verified.*not scheduled/);
    await page.screenshot({ path: join(SHOTS, 'databases.png'), fullPage: true });
    await page.close();
  });

  it('never shows another project’s data, and fits a phone’s width', async () => {
    const page = await browser.newPage({ viewport: { width: 390, height: 844 } });
    await signIn(page, api.token);
    await page.getByRole('link', { name: 'web' }).waitFor();
    expect(await page.getByText('secret-svc').count()).toBe(0);
    expect(await page.getByText('secret-db').count()).toBe(0);
    await page.goto(`${api.base}/ui/#/services/secret-svc`);
    await page.getByRole('alert').waitFor();
    expect(await page.getByRole('alert').textContent()).toMatch(/BERTH_SERVICE_NOT_FOUND/);
    expect(await page.evaluate(() => document.documentElement.scrollWidth <= document.documentElement.clientWidth)).toBe(true);
    await page.screenshot({ path: join(SHOTS, 'phone-isolation.png'), fullPage: true });
    await page.close();
  });
});
