import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { BASE_CAPABILITIES, DEFAULT_CPU_LIMIT, DEFAULT_PIDS_LIMIT } from '../src/domain/definition.js';
import { BenchServer } from './lib/bench-server.js';
import type { BenchContext } from './lib/context.js';
import { BENCH_LABEL, docker } from './lib/docker.js';
import { HELLO_IMAGE } from './lib/images.js';
import { nowMs } from './lib/process.js';
import { median, paired } from './lib/stats.js';

// Ports 17680-17683.
const BASE_PORT = 17680;
const REPO = join(import.meta.dirname, '..');
const LINE_TIMEOUT_MS = 60_000;

export interface JobsOptions {
  readonly runs: number;
}

/**
 * Job start latency: `berth run --image IMAGE -- echo first` (the built CLI, as a user runs it)
 * → its first output line, against `docker run --rm` of the same image, with the same limits,
 * capabilities and a network of its own, → its first output line. Rounds alternate which side
 * goes first; one untimed warm-up round.
 */
export async function runJobs(ctx: BenchContext, options: JobsOptions): Promise<void> {
  await ctx.scoped(async (scope) => {
    ctx.log('jobs: starting a server');
    const server = await BenchServer.start({ basePort: BASE_PORT });
    scope.defer('jobs server', () => server.destroy());
    const api = await server.admin.project('bench-jobs');
    const network = `berth-bench-jobs-${ctx.session}`;
    await docker(['network', 'create', '--label', `${BENCH_LABEL}=${ctx.session}`, '--subnet', '10.199.4.0/22', network]);
    scope.defer('baseline network', () => docker(['network', 'rm', network]).then(() => undefined));
    const env = { ...process.env, BERTH_URL: server.admin.base, BERTH_TOKEN: api.token, NO_COLOR: '1' };
    const berth = (): Promise<number> =>
      firstLine(process.execPath, [join(REPO, 'bin/berth.js'), 'run', '--image', HELLO_IMAGE, '--memory-limit', '32', '--', 'echo', 'first'], env);
    const baseline = (): Promise<number> =>
      firstLine(
        'docker',
        [
          'run', '--rm', '--label', `${BENCH_LABEL}=${ctx.session}`, '--network', network, '--init',
          '--memory', '32m', '--memory-swap', '32m', '--security-opt', 'no-new-privileges',
          '--cap-drop', 'ALL', ...BASE_CAPABILITIES.flatMap((cap) => ['--cap-add', cap]), '--pids-limit', String(DEFAULT_PIDS_LIMIT), '--cpus', String(DEFAULT_CPU_LIMIT),
          HELLO_IMAGE, 'echo', 'first',
        ],
        process.env,
      );
    const throughApi = async (): Promise<number> => {
      const t0 = nowMs();
      const created = await api.call('POST', '/jobs', { image: HELLO_IMAGE, 'memory-limit': 32, command: ['echo', 'first'] });
      if (created.status !== 201) throw new Error(`POST /jobs: ${created.status} ${JSON.stringify(created.json)}`);
      const stream = await fetch(`${api.base}/jobs/${created.json.id}/logs/stream`, { headers: { 'x-auth-token': api.token }, signal: AbortSignal.timeout(LINE_TIMEOUT_MS) });
      const reader = (stream.body as ReadableStream<Uint8Array>).getReader();
      let text = '';
      while (!text.includes('\n')) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`job ${created.json.id} ended without a line`);
        text += Buffer.from(value).toString();
      }
      const elapsed = nowMs() - t0;
      await reader.cancel();
      return elapsed;
    };
    const berthTimes: number[] = [];
    const apiTimes: number[] = [];
    const dockerTimes: number[] = [];
    for (let round = 0; round <= options.runs; round++) {
      let b: number;
      let a: number;
      let d: number;
      if (round % 2 === 0) {
        b = await berth();
        a = await throughApi();
        d = await baseline();
      } else {
        d = await baseline();
        a = await throughApi();
        b = await berth();
      }
      ctx.log(`jobs: round ${round}${round === 0 ? ' (warm-up)' : ''}: docker run --rm ${d.toFixed(0)} ms, berth run ${b.toFixed(0)} ms, POST /jobs ${a.toFixed(0)} ms`);
      if (round === 0) continue;
      berthTimes.push(b);
      apiTimes.push(a);
      dockerTimes.push(d);
    }
    ctx.raw.jobs = { berth: berthTimes, api: apiTimes, docker: dockerTimes };
    ctx.record({
      bench: 'jobs',
      name: 'berth run → first output line',
      unit: 'ms',
      values: berthTimes,
      baseline: dockerTimes,
      comparisons: paired(berthTimes, dockerTimes, (x, y) => x / y),
      goal: { kind: 'info' },
      note: 'baseline: docker run --rm of the same image, as isolated as berth’s task; both the CLI as a user runs it (node starts slower than docker’s Go binary)',
    });
    ctx.record({
      bench: 'jobs',
      name: 'POST /jobs → first output line on the log stream',
      unit: 'ms',
      values: apiTimes,
      baseline: dockerTimes,
      comparisons: paired(apiTimes, dockerTimes, (x, y) => x / y),
      goal: { kind: 'ratio-max', limit: 1.25 },
      note: 'what berth itself adds to starting the same task: the deploy goal, for a job',
    });
    ctx.notes.push(
      `jobs: median to the first line: berth run ${median(berthTimes).toFixed(0)} ms, POST /jobs ${median(apiTimes).toFixed(0)} ms, docker run --rm ${median(dockerTimes).toFixed(0)} ms; the difference between the first two is the CLI's own start`,
    );
  });
}

/** Runs a command; resolves with the ms from the spawn to its first line on stdout, then lets it finish. */
function firstLine(command: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = nowMs();
    const child = spawn(command, [...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let firstAt = 0;
    let err = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${command} ${args.slice(0, 3).join(' ')} … printed nothing within ${LINE_TIMEOUT_MS} ms: ${err}`));
    }, LINE_TIMEOUT_MS);
    child.stdout.on('data', (chunk: Buffer) => {
      if (firstAt === 0 && chunk.toString().includes('\n')) firstAt = nowMs();
    });
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code !== 0 || firstAt === 0) reject(new Error(`${command} ${args.slice(0, 3).join(' ')} … exited ${code}: ${err.trim()}`));
      else resolve(firstAt - started);
    });
  });
}
