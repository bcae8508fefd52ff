import { describe, expect, it } from 'vitest';
import { parseDefinition } from '../../src/domain/definition.js';
import { parseJobInput } from '../../src/domain/job-input.js';
import { BerthMetrics } from '../../src/metrics/metrics.js';
import { MetricsHistory } from '../../src/metrics/history.js';
import { openDatabase } from '../../src/store/database.js';
import { Store } from '../../src/store/store.js';
import { NO_CERTIFICATES } from '../../src/tls/certificates.js';

function metrics(usage = new Map()) {
  const store = new Store(openDatabase(':memory:'), { now: () => Date.now() });
  return { store, metrics: new BerthMetrics({ store, certificates: () => NO_CERTIFICATES, usage: () => usage, routes: async () => null }) };
}

/** Every series of the text: its name and its label names. */
function series(text: string): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s/.exec(line);
    if (!match) throw new Error(`not a sample line: ${line}`);
    const labels = new Set([...(match[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="/g)].map((m) => m[1] as string));
    out.set(`${match[1]}`, new Set([...(out.get(match[1] as string) ?? []), ...labels]));
  }
  return out;
}

describe('berth’s metrics', () => {
  it('have Prometheus names and bounded label sets: no path, id or task name', async () => {
    const usage = new Map([['p/web', { project: 'p', service: 'web', memoryBytes: 1024, cpuSeconds: 2.5, tasks: 2 }]]);
    const { metrics: m } = metrics(usage);
    m.passCompleted(3);
    m.admissionRefused('job');
    const { contentType, body } = await m.text();
    expect(contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    const found = series(body);
    expect(Object.fromEntries([...found].filter(([name]) => !name.startsWith('berth_reconcile_pass_duration_seconds_')).map(([name, labels]) => [name, [...labels].sort()]))).toEqual({
      berth_admission_refusals_total: ['kind'],
      berth_backups: ['verdict'],
      berth_task_memory_bytes: ['project', 'service'],
      berth_task_cpu_seconds_total: ['project', 'service'],
    });
    expect([...(found.get('berth_reconcile_pass_duration_seconds_bucket') ?? [])]).toEqual(['le']);
    for (const name of found.keys()) expect(name).toMatch(/^berth_[a-z_]+$/);
    expect(body).toContain('berth_task_memory_bytes{project="p",service="web"} 1024');
    expect(body).toContain('berth_task_cpu_seconds_total{project="p",service="web"} 2.5');
    expect(body).toContain('berth_admission_refusals_total{kind="job"} 1');
  });

  it('count deployments by outcome and jobs by state from the store', async () => {
    const { store, metrics: m } = metrics();
    store.projects.create('p');
    const service = store.services.create('p', 'web', { relPath: '/', statusCodes: [{ from: 200, to: 399 }], intervalSeconds: 5 });
    store.revisions.add(service.id, parseDefinition({ image: 'web:1', 'memory-reservation': 16, 'memory-limit': 32, 'container-port': 80, environment: [] }));
    const d = store.deployments.create(service.id, 1, null);
    store.deployments.advance(store.deployments.rollBack(d, 'failed', 'no room'), 'failed');
    store.deployments.create(service.id, 1, null);
    const { spec } = parseJobInput({ image: 'job:1' }, null);
    store.jobs.create({ project: 'p', serviceId: null, scheduleId: null, spec, schedule: null, nextRun: null });
    const { body } = await m.text();
    expect(body).toContain('berth_deployments_total{outcome="failed"} 1');
    expect(body).not.toContain('outcome="pending"');
    expect(body).toContain('berth_jobs{state="queued"} 1');
  });
});

describe('backup metrics', () => {
  it('count backups by verdict, and tell when each live database last had one verified', async () => {
    let now = 1_000_000;
    const store = new Store(openDatabase(':memory:'), { now: () => now });
    const m = new BerthMetrics({ store, certificates: () => NO_CERTIFICATES, usage: () => new Map(), routes: async () => null });
    expect((await m.text()).body).toContain('berth_backups{verdict="verified"} 0');
    store.projects.create('p');
    const definition = { image: 'postgres:15', memoryReservationMiB: 128, memoryLimitMiB: 256 };
    const db = store.databases.create({ project: 'p', name: 'main', engine: 'postgres', definition, backupSchedule: null, backupsKept: 7 });
    const gone = store.databases.create({ project: 'p', name: 'gone', engine: 'postgres', definition, backupSchedule: null, backupsKept: 7 });
    const finish = (databaseId: number, status: 'verified' | 'failed', at: number) => {
      now = at;
      store.backups.finish(store.backups.queue(databaseId, 'manual', 'custom').id, { status, reason: status === 'failed' ? 'counts differ' : null, verifyMs: 5 });
    };
    finish(db.id, 'verified', 2_000_000);
    finish(db.id, 'verified', 3_000_000);
    finish(db.id, 'failed', 4_000_000);
    finish(gone.id, 'verified', 5_000_000);
    store.backups.queue(db.id, 'schedule', 'custom');
    store.databases.setStatus(gone.id, 'DELETING', true);
    const { body } = await m.text();
    expect(body).toContain('berth_backups{verdict="verified"} 3');
    expect(body).toContain('berth_backups{verdict="failed"} 1');
    expect(body).toContain('berth_backups{verdict="pending"} 1');
    // The failed one after it does not move the last verified time; a database on its way out has none.
    expect(body).toContain('berth_database_last_verified_backup_timestamp_seconds{project="p",database="main"} 3000');
    expect(body).not.toContain('database="gone"');
  });
});

describe('the charts’ history', () => {
  it('keeps a bounded window per service and forgets services that went', () => {
    const history = new MetricsHistory(3);
    for (let i = 0; i < 5; i++) history.add('p/web', { at: i, memoryBytes: i, requestRate: null, errorRate: null, p95Seconds: null });
    history.add('p/old', { at: 1, memoryBytes: 1, requestRate: null, errorRate: null, p95Seconds: null });
    expect(history.points('p/web', 0).map((p) => p.at)).toEqual([2, 3, 4]);
    expect(history.points('p/web', 4).map((p) => p.at)).toEqual([4]);
    history.retain(new Set(['p/web']));
    expect(history.points('p/old', 0)).toEqual([]);
  });
});
