import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable } from 'node:stream';
import { join } from 'node:path';

const REPO = join(import.meta.dirname, '../..');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The berth CLI as its own process, as a user runs it from the repository. */
export function startCli(args: readonly string[], env: NodeJS.ProcessEnv): CliProcess {
  return spawn(process.execPath, ['--import', 'tsx', 'src/cli/berth.ts', ...args], { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'], timeout: 110_000 });
}

export type CliProcess = ChildProcessByStdio<null, Readable, Readable>;

/** Runs the CLI to its end; resolves with its exit code and output. */
export function runCli(args: readonly string[], env: NodeJS.ProcessEnv): Promise<CliResult> {
  return collect(startCli(args, env));
}

export function collect(child: CliProcess): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
