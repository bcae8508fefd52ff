import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, definition, startTestServer, waitFor, waitForDeployment, type ApiClient, type TestServer } from '../support/docker-harness.js';

// Ports 18650-18659 belong to this file: the server 18650-18653, its metrics 18655, Prometheus 18656.
const METRICS = '127.0.0.1:18655';
const PROMETHEUS = '127.0.0.1:18656';
let t: TestServer;
let api: ApiClient;
let prometheus: ChildProcess | null = null;
const dir = mkdtempSync(join(tmpdir(), 'berth-prometheus-'));

beforeAll(async () => {
  t = await startTestServer({ basePort: 18650, extra: { metricsListen: METRICS } }, { sampleIntervalMs: 500 });
  api = await t.api.project('it-met');
  await api.call('POST', '/services', { name: 'web', health_check: { interval: 1 } });
  const put = await api.call('PUT', '/services/web', definition());
  expect((await waitForDeployment(api, 'web', put.json.deployment)).step).toBe('succeeded');
});

afterAll(async () => {
  prometheus?.kill('SIGKILL');
  await t?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

async function query(expr: string): Promise<number | null> {
  const res = await fetch(`http://${PROMETHEUS}/api/v1/query?query=${encodeURIComponent(expr)}`);
  const body = (await res.json()) as { data?: { result?: { value: [number, string] }[] } };
  const first = body.data?.result?.[0];
  return first ? Number(first.value[1]) : null;
}

describe('metrics', () => {
  it('are scraped by a real Prometheus: requests per route by status class from the gateway, and task memory from the engine', async () => {
    for (let i = 0; i < 20; i++) expect((await fetch(`${t.gatewayUrl}/it-met-web/`)).status).toBe(200);
    for (let i = 0; i < 3; i++) expect((await fetch(`${t.gatewayUrl}/it-met-web/missing`)).status).toBe(404);
    // Paths that are no route never become series.
    await fetch(`${t.gatewayUrl}/no-such-route-${Date.now()}/x`);

    const text = await (await fetch(`http://${METRICS}/metrics`)).text();
    expect(text).toMatch(/berth_route_requests_total\{route="it-met-web",code="2xx"\} (2\d|[3-9]\d)/);
    expect(text).toContain('berth_route_requests_total{route="it-met-web",code="4xx"} 3');
    expect(text).not.toContain('no-such-route');
    // promtool, Prometheus's own linter, finds nothing to say about names, types and help.
    expect(execFileSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' }).trim()).toBe('');

    writeFileSync(join(dir, 'prometheus.yml'), `global: {scrape_interval: 1s}\nscrape_configs:\n  - job_name: berth\n    static_configs: [{targets: ['${METRICS}']}]\n`);
    prometheus = spawn('prometheus', [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=${PROMETHEUS}`], { stdio: 'ignore' });
    await waitFor('Prometheus to have scraped the 2xx count', async () => ((await query('berth_route_requests_total{route="it-met-web",code="2xx"}')) ?? 0) >= 20, 60_000, 500);
    await waitFor('Prometheus to have the task memory', async () => ((await query('berth_task_memory_bytes{project="it-met",service="web"}')) ?? 0) > 0, 30_000, 500);
    expect(await query('up{job="berth"}')).toBe(1);
  });

  it('are served on --metrics-listen without a token, and on the API with the admin token only', async () => {
    expect((await fetch(`http://${METRICS}/metrics`)).status).toBe(200);
    expect((await fetch(`http://${METRICS}/other`)).status).toBe(404);
    expect((await fetch(`${api.base}/metrics`, { headers: { 'x-auth-token': api.token } })).status).toBe(403);
    expect((await fetch(`${api.base}/metrics`, { headers: { 'x-auth-token': ADMIN_TOKEN } })).status).toBe(200);
  });

  it("keeps each service's last hour for its charts, which another project cannot read", async () => {
    await waitFor('a chart point with a request rate', async () => {
      for (let i = 0; i < 5; i++) await fetch(`${t.gatewayUrl}/it-met-web/`);
      const doc = (await api.call('GET', '/services/web/metrics')).json;
      return doc.points.some((p: { request_rate: number | null; memory_bytes: number | null }) => (p.request_rate ?? 0) > 0 && (p.memory_bytes ?? 0) > 0);
    }, 20_000, 600);
    const other = await t.api.project('it-met-other');
    expect((await other.call('GET', '/services/web/metrics')).status).toBe(404);
  });
});
