import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CliContext } from '../../src/cli/context.js';
import { runCli } from '../../src/cli/main.js';
import type { DeploymentStep } from '../../src/domain/deployment.js';
import { apiHarness, createProject, type Harness } from './api-harness.js';

/** An output stream that keeps what was written, as text (a dump's bytes too). */
export class Capture {
  text = '';
  columns = 120;
  constructor(readonly isTTY = false) {}
  write(chunk: string | Uint8Array): boolean {
    this.text += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    return true;
  }
}

export interface Run {
  code: number;
  out: string;
  err: string;
}

export interface FakeTerminal {
  stdin: PassThrough & { isTTY?: boolean };
  stdout: Capture;
  stderr: Capture;
  interrupt(): void;
  ctx: CliContext;
}

/** The API in-process on a real port, project `exp` and its token, and a config dir of the CLI's own. */
export interface CliSetup {
  readonly h: Harness;
  readonly url: string;
  readonly token: string;
  readonly configHome: string;
}

export async function cliSetup(): Promise<CliSetup> {
  const h = await apiHarness({
    credentials: {
      credentialsFor: async (service) => ({ repo_uri: `127.0.0.1:5000/exp/${service.name}`, proxy_endpoint: '127.0.0.1:5000', user: 'push-user', password: "pa'ss" }),
    },
  });
  const token = await createProject(h.app, 'exp');
  const url = await h.app.listen({ port: 0, host: '127.0.0.1' });
  return { h, url, token, configHome: mkdtempSync(join(tmpdir(), 'berth-cli-test-')) };
}

export async function cliTeardown(setup: CliSetup): Promise<void> {
  await setup.h.close();
  rmSync(setup.configHome, { recursive: true, force: true });
}

/** A CLI context on captured streams; a terminal on both ends when `tty`. */
export function fakeTerminal(argv: readonly string[], env: Record<string, string>, tty = false): FakeTerminal {
  const stdin = Object.assign(new PassThrough(), { isTTY: tty });
  const stdout = new Capture(tty);
  const stderr = new Capture(tty);
  const listeners = new Set<() => void>();
  return {
    stdin,
    stdout,
    stderr,
    interrupt: () => listeners.forEach((l) => l()),
    ctx: {
      argv,
      stdin,
      stdout,
      stderr,
      env,
      onInterrupt(listener) {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
    },
  };
}

export async function runIn(t: FakeTerminal): Promise<Run> {
  const code = await runCli(t.ctx);
  return { code, out: t.stdout.text, err: t.stderr.text };
}

export function terminal(setup: CliSetup, argv: string[], options: { env?: Record<string, string>; tty?: boolean } = {}): FakeTerminal {
  return fakeTerminal(argv, { XDG_CONFIG_HOME: setup.configHome, BERTH_URL: setup.url, BERTH_TOKEN: setup.token, ...options.env }, options.tty ?? false);
}

export function berth(setup: CliSetup, argv: string[], options: { env?: Record<string, string>; tty?: boolean } = {}): Promise<Run> {
  return runIn(terminal(setup, argv, options));
}

/** Stands in for the reconciler: waits for the row's open deployment and moves it through `steps`. */
export async function walkNextDeployment(h: Harness, rowId: () => number, steps: DeploymentStep[], reason = 'tasks never became healthy'): Promise<void> {
  let open = h.store.deployments.open(rowId());
  for (let i = 0; i < 1000 && open.length === 0; i++) {
    await sleep(10);
    open = h.store.deployments.open(rowId());
  }
  let deployment = open[0];
  if (!deployment) throw new Error('no deployment started');
  for (const step of steps) {
    await sleep(30);
    const current = h.store.deployments.get(deployment.id);
    if (!current) throw new Error('deployment vanished');
    deployment = h.store.transaction(() => {
      const next = step === 'rolling-back' ? h.store.deployments.rollBack(current, 'failed', reason) : h.store.deployments.advance(current, step);
      h.store.events.add(current.serviceId, `reached ${step}`, current.id);
      return next;
    });
  }
}

export const SUCCESS: DeploymentStep[] = ['starting', 'health-wait', 'switching', 'draining', 'stopping', 'succeeded'];
