import { spawn } from 'node:child_process';

export interface WrkOptions {
  readonly url: string;
  readonly threads: number;
  readonly connections: number;
  readonly durationSeconds: number;
  readonly headers?: Readonly<Record<string, string>>;
  /** Requests slower than this count as timeouts; wrk's default is 2 s. */
  readonly timeoutSeconds?: number;
  /** Runs wrk on these CPUs only (a taskset list). */
  readonly cpus?: string;
}

export interface WrkResult {
  readonly requests: number;
  readonly seconds: number;
  readonly requestsPerSecond: number;
  /** From wrk's --latency distribution, in ms. */
  readonly latencyMs: { readonly p50: number; readonly p75: number; readonly p90: number; readonly p99: number };
  readonly socketErrors: { readonly connect: number; readonly read: number; readonly write: number; readonly timeout: number };
  readonly non2xx3xx: number;
  readonly raw: string;
}

/** Runs wrk (keep-alive, closed loop) and parses its report. Bounded: killed after duration + 20 s. */
export function runWrk(options: WrkOptions): Promise<WrkResult> {
  const args = [
    `-t${options.threads}`,
    `-c${options.connections}`,
    `-d${options.durationSeconds}s`,
    `--timeout`,
    `${options.timeoutSeconds ?? 2}s`,
    '--latency',
  ];
  for (const [name, value] of Object.entries(options.headers ?? {})) args.push('-H', `${name}: ${value}`);
  args.push(options.url);
  return new Promise((resolve, reject) => {
    const child =
      options.cpus === undefined
        ? spawn('wrk', args, { stdio: ['ignore', 'pipe', 'pipe'] })
        : spawn('taskset', ['-c', options.cpus, 'wrk', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), (options.durationSeconds + 20) * 1000);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`wrk could not start (apt-get install -y wrk): ${error.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) {
        reject(new Error(`wrk ${options.url} exited with ${code ?? signal}: ${err.trim() || out.trim()}`));
        return;
      }
      try {
        resolve(parseWrkOutput(out));
      } catch (error) {
        reject(error);
      }
    });
  });
}

/** "812.00us", "1.23ms", "2.01s", "1.5m" → milliseconds. */
export function parseDuration(text: string): number {
  const match = /^([\d.]+)(us|ms|s|m)$/.exec(text.trim());
  if (!match) throw new Error(`wrk: cannot read the duration '${text}'`);
  const value = Number(match[1]);
  const factor = { us: 0.001, ms: 1, s: 1000, m: 60_000 }[match[2] as 'us' | 'ms' | 's' | 'm'];
  return value * factor;
}

export function parseWrkOutput(text: string): WrkResult {
  const total = /(\d+) requests in ([\d.]+\w+),/.exec(text);
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(text);
  if (!total || !rps) throw new Error(`wrk: unexpected output:\n${text}`);
  const latency = (p: number): number => {
    const match = new RegExp(`^\\s+${p}%\\s+(\\S+)`, 'm').exec(text);
    if (!match) throw new Error(`wrk: no ${p}% latency in the output (was --latency given?)`);
    return parseDuration(match[1] as string);
  };
  const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(text);
  return {
    requests: Number(total[1]),
    seconds: parseDuration(total[2] as string) / 1000,
    requestsPerSecond: Number(rps[1]),
    latencyMs: { p50: latency(50), p75: latency(75), p90: latency(90), p99: latency(99) },
    socketErrors: {
      connect: Number(errors?.[1] ?? 0),
      read: Number(errors?.[2] ?? 0),
      write: Number(errors?.[3] ?? 0),
      timeout: Number(errors?.[4] ?? 0),
    },
    non2xx3xx: Number(non2xx?.[1] ?? 0),
    raw: text,
  };
}

export function wrkFailures(result: WrkResult): number {
  const e = result.socketErrors;
  return e.connect + e.read + e.write + e.timeout + result.non2xx3xx;
}
