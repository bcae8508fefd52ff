/**
 * What berth's health probing costs, measured apart from the server: this process runs the
 * server's own HealthProber against the tasks given on stdin (JSON ProbeTarget[] without
 * the interval), every PROBE_INTERVAL_S, and reports the CPU time it used per probe, less
 * what the same process uses idle over the same time. Run by the scale bench as a child:
 * node --import tsx bench/lib/probe-cost.ts < targets.json
 */
import { HealthProber, type ProbeTarget, type ProberClock } from '../../src/gateway/prober.js';
import { sleep } from '../../src/process/wait.js';
import { waitFor } from '../../test/support/docker-harness.js';

const PROBE_INTERVAL_S = 1;
const MEASURE_MS = 5_000;
/** Probing runs this long before the measured window, so the measurement starts with warm code. */
const WARMUP_MS = 3_000;
const HEALTHY_TIMEOUT_MS = 30_000;

export interface ProbeCost {
  readonly targets: number;
  readonly probes: number;
  readonly cpuUsPerProbe: number;
}

function cpuUs(): number {
  const usage = process.cpuUsage();
  return usage.user + usage.system;
}

async function measure(targets: readonly Omit<ProbeTarget, 'intervalSeconds'>[]): Promise<ProbeCost> {
  const idleStart = cpuUs();
  await sleep(MEASURE_MS);
  const idleUs = cpuUs() - idleStart;

  // Each finished probe schedules the next one through the clock: counting those counts probes.
  let probes = 0;
  const clock: ProberClock = {
    now: () => Date.now(),
    setTimeout: (callback, ms) => {
      probes++;
      return setTimeout(callback, ms);
    },
    clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
  };
  const prober = new HealthProber({ clock });
  try {
    prober.setTargets(targets.map((t) => ({ ...t, intervalSeconds: PROBE_INTERVAL_S })));
    await waitFor('every task to answer its probe', async () => targets.every((t) => prober.health(t.id).state === 'healthy'), HEALTHY_TIMEOUT_MS);
    await sleep(WARMUP_MS);
    const startUs = cpuUs();
    const startProbes = probes;
    await sleep(MEASURE_MS);
    const counted = probes - startProbes;
    return { targets: targets.length, probes: counted, cpuUsPerProbe: (cpuUs() - startUs - idleUs) / counted };
  } finally {
    prober.stop();
  }
}

async function main(): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const targets = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Omit<ProbeTarget, 'intervalSeconds'>[];
  process.stdout.write(`${JSON.stringify(await measure(targets))}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
