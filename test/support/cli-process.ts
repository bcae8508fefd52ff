import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { join } from 'node:path';

const REPO = join(import.meta.dirname, '../..');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `berth ARGS…` as its own process, as a user runs it, from the repository. */
export function startCli(args: readonly string[], env: NodeJS.ProcessEnv, timeoutMs = 170_000): ChildProcessWithoutNullStreams {
  return spawn(process.execPath, ['--import', 'tsx', 'src/cli/berth.ts', ...args], { cwd: REPO, env, stdio: 'pipe', timeout: timeoutMs });
}

export interface CliOptions {
  readonly onStdout?: (text: string) => void;
  readonly timeoutMs?: number;
  /** What the command reads on stdin (default: nothing). */
  readonly input?: string;
}

/** Runs `berth ARGS…` to its end; `onStdout` sees the output so far each time more comes. */
export function runCli(args: readonly string[], env: NodeJS.ProcessEnv, options: CliOptions = {}): Promise<CliResult> {
  const child = startCli(args, env, options.timeoutMs);
  child.stdin.end(options.input ?? '');
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => {
    stdout += c.toString();
    options.onStdout?.(stdout);
  });
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** `berth ARGS…` with the server and token in the environment, as BERTH_URL and BERTH_TOKEN. */
export function berthCli(url: string, token: string, args: readonly string[], options: CliOptions = {}): Promise<CliResult> {
  return runCli(args, { ...process.env, BERTH_URL: url, BERTH_TOKEN: token, NO_COLOR: '1' }, options);
}
