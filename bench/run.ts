/**
 * `npm run bench [-- NAME …]`: runs the selected benches (all by default) against a real
 * engine, nginx and registry, prints one table of figures, each compared with a baseline
 * measured in the same run, and writes the figures and raw data to bench/results/.
 * NAMES: deploy, update, gateway, scale, recovery, jobs, tls, stacks, colours, dashboard, databases, swarm. BENCH_RUNS overrides the runs per figure.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { runColours } from './colours.js';
import { runDashboard } from './dashboard.js';
import { runDatabases } from './databases.js';
import { runDeployLatency } from './deploy-latency.js';
import { runGateway } from './gateway.js';
import { runJobs } from './jobs.js';
import { BenchContext } from './lib/context.js';
import { BENCH_LABEL, removeContainersWithLabel } from './lib/docker.js';
import { TABLE_HEADERS, figureRow } from './lib/figures.js';
import { buildBenchImages } from './lib/images.js';
import { run } from './lib/process.js';
import { renderMarkdownTable, renderTable } from './lib/table.js';
import { runRecovery } from './recovery.js';
import { runScale } from './scale.js';
import { runStacks } from './stacks.js';
import { runSwarm } from './swarm.js';
import { runTls } from './tls.js';
import { runUpdateUnderLoad } from './update-under-load.js';

const runs = Number(process.env.BENCH_RUNS ?? 5);

const BENCHES: Record<string, (ctx: BenchContext) => Promise<void>> = {
  // Three times the rounds: the engine's own container start varies by a quarter from one
  // round to the next, and a round takes only 3 s (BENCHMARKS.md, deploy latency).
  deploy: (ctx) => runDeployLatency(ctx, { runs: runs * 3 }),
  update: (ctx) => runUpdateUnderLoad(ctx, { runs }),
  gateway: (ctx) => runGateway(ctx, { runs, seconds: Number(process.env.BENCH_WRK_SECONDS ?? 5) }),
  scale: (ctx) => runScale(ctx, { sizes: (process.env.BENCH_SCALE_SIZES ?? '10,100,300').split(',').map(Number) }),
  recovery: (ctx) => runRecovery(ctx, { runs: Math.max(3, Math.min(runs, 5)) }),
  jobs: (ctx) => runJobs(ctx, { runs: runs * 2 }),
  tls: (ctx) => runTls(ctx, { runs, seconds: Number(process.env.BENCH_WRK_SECONDS ?? 5) }),
  stacks: (ctx) => runStacks(ctx, { runs }),
  colours: (ctx) => runColours(ctx, { runs }),
  dashboard: (ctx) => runDashboard(ctx, { runs }),
  // Fewer rounds: each dumps and restores 200 MB twice over.
  databases: (ctx) => runDatabases(ctx, { runs: Math.min(runs, 3), backups: 2 }),
  // A Swarm of three engines in network namespaces; a node failure takes Swarm's 5 s heartbeats.
  swarm: (ctx) => runSwarm(ctx, { runs: Math.max(3, Math.min(runs, 5)), seconds: Number(process.env.BENCH_WRK_SECONDS ?? 5) }),
};

async function machine(): Promise<Record<string, string | number>> {
  // nginx -v and wrk --version print to stderr, and wrk exits 1.
  const version = (cmd: string, args: string[]): string => {
    const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 10_000 });
    return `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n')[0] || 'unknown';
  };
  return {
    nproc: cpus().length,
    cpu: cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    kernel: release(),
    docker: await run('docker', ['version', '--format', '{{.Server.Version}}']).catch(() => 'unknown'),
    nginx: version('nginx', ['-v']),
    wrk: version('wrk', ['--version']),
    dockerCompose: version('docker-compose', ['version', '--short']),
    node: process.version,
  };
}

async function main(): Promise<void> {
  const selected = process.argv.slice(2);
  for (const name of selected) {
    if (!(name in BENCHES)) throw new Error(`unknown bench '${name}'; choose from ${Object.keys(BENCHES).join(', ')}`);
  }
  const names = selected.length > 0 ? selected : Object.keys(BENCHES);
  const ctx = new BenchContext();
  let interrupted = false;
  const onSignal = (signal: string): void => {
    if (interrupted) return;
    interrupted = true;
    ctx.log(`${signal}: cleaning up`);
    void ctx.closeAll().finally(() => process.exit(130));
  };
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));

  const started = new Date();
  const t0 = performance.now();
  const info = await machine();
  ctx.log(`machine: ${JSON.stringify(info)}`);
  ctx.log('building the bench images');
  await buildBenchImages();
  const failures: string[] = [];
  const durations: Record<string, number> = {};
  for (const name of names) {
    const t = performance.now();
    ctx.log(`=== ${name}`);
    try {
      await (BENCHES[name] as (c: BenchContext) => Promise<void>)(ctx);
    } catch (error) {
      failures.push(`${name}: ${(error as Error).stack ?? String(error)}`);
      ctx.log(`${name} failed: ${(error as Error).stack ?? String(error)}`);
    }
    durations[name] = Math.round((performance.now() - t) / 1000);
  }
  await removeContainersWithLabel(`${BENCH_LABEL}=${ctx.session}`);
  const seconds = Math.round((performance.now() - t0) / 1000);

  const rows = ctx.figures.map(figureRow);
  process.stdout.write(`\n${renderTable(TABLE_HEADERS, rows)}\n`);
  for (const note of ctx.notes) process.stdout.write(`\n${note}\n`);
  process.stdout.write(`\n${names.join(', ')} in ${seconds} s (${Object.entries(durations).map(([n, s]) => `${n} ${s} s`).join(', ')})\n`);

  const dir = join(import.meta.dirname, 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${started.toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(
    file,
    `${JSON.stringify(
      {
        startedAt: started.toISOString(),
        seconds,
        durations,
        benches: names,
        machine: info,
        figures: ctx.figures,
        markdown: renderMarkdownTable(TABLE_HEADERS, rows),
        notes: ctx.notes,
        raw: ctx.raw,
        failures,
      },
      null,
      2,
    )}\n`,
  );
  process.stdout.write(`results: ${file}\n`);
  if (failures.length > 0) {
    process.stderr.write(`\n${failures.length} bench(es) failed:\n${failures.join('\n')}\n`);
    process.exitCode = 1;
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
