import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { readdirSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ProcessStartError } from '../../src/process/errors.js';
import { SupervisedProcess, type SupervisedProcessOptions } from '../../src/process/supervised-process.js';

// Needs no engine; it lives with the docker tests because it spawns real, long-lived processes.
const BUSYBOX = '/usr/bin/busybox';
const PORT = 18201;

let dir: string;
const started: SupervisedProcess[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'berth-supervisor-'));
  await writeFile(join(dir, 'index.html'), 'ok');
});

afterEach(async () => {
  for (const supervisor of started.splice(0)) await supervisor.stop();
  // Anything still running with our temp dir on its command line leaked from a test.
  const leaked = processesMentioning(dir);
  for (const pid of leaked) process.kill(pid, 'SIGKILL');
  await rm(dir, { recursive: true, force: true });
  expect(leaked).toEqual([]);
});

function options(overrides: Partial<SupervisedProcessOptions> = {}): SupervisedProcessOptions {
  return {
    name: 'httpd',
    command: BUSYBOX,
    // A background child in the same group stands in for nginx workers that outlive their master.
    args: [
      'sh',
      '-c',
      `${BUSYBOX} sh -c 'while true; do ${BUSYBOX} sleep 1; done' loop ${dir} & exec ${BUSYBOX} httpd -f -p 127.0.0.1:${PORT} -h ${dir}`,
    ],
    pidFile: join(dir, 'httpd.pid'),
    writesOwnPidFile: false,
    ready: () => tcpAnswers(PORT),
    readyTimeoutMs: 5_000,
    logFile: join(dir, 'logs', 'httpd.log'),
    stopGraceMs: 1_000,
    ...overrides,
  };
}

function supervise(overrides: Partial<SupervisedProcessOptions> = {}): SupervisedProcess {
  const supervisor = new SupervisedProcess(options(overrides));
  started.push(supervisor);
  return supervisor;
}

describe('SupervisedProcess', () => {
  it('spawns, writes its pid file, and restarts the process after kill -9', async () => {
    const supervisor = supervise();
    const ready = vi.fn();
    supervisor.onReady(ready);
    await supervisor.start();

    const first = supervisor.pid();
    expect(first).not.toBeNull();
    expect(Number(await readFile(join(dir, 'httpd.pid'), 'utf8'))).toBe(first);
    expect(ready).toHaveBeenCalledTimes(1);
    expect(await tcpAnswers(PORT)).toBe(true);

    process.kill(first ?? 0, 'SIGKILL');
    await vi.waitFor(() => expect(ready).toHaveBeenCalledTimes(2), { timeout: 5_000, interval: 50 });

    const second = supervisor.pid();
    expect(second).not.toBeNull();
    expect(second).not.toBe(first);
    expect(Number(await readFile(join(dir, 'httpd.pid'), 'utf8'))).toBe(second);
    expect(await tcpAnswers(PORT)).toBe(true);
    // The orphaned loop of the killed leader's group was reaped; only the new leader's runs.
    expect(processesMentioning(`loop ${dir}`)).toHaveLength(1);
  });

  it('leaves the process running on detach, and a new supervisor adopts it instead of spawning', async () => {
    const first = supervise();
    await first.start();
    const pid = first.pid();
    await first.detach();
    expect(first.pid()).toBeNull();
    expect(await tcpAnswers(PORT)).toBe(true);

    const second = supervise();
    const ready = vi.fn();
    second.onReady(ready);
    await second.start();
    expect(second.pid()).toBe(pid);
    expect(ready).toHaveBeenCalledTimes(1);
    expect(serversMentioning(`httpd -f -p 127.0.0.1:${PORT}`)).toEqual([pid]);

    // Not our child: the death is noticed by polling, and the process is replaced all the same.
    process.kill(pid ?? 0, 'SIGKILL');
    await vi.waitFor(() => expect(ready).toHaveBeenCalledTimes(2), { timeout: 5_000, interval: 50 });
    expect(second.pid()).not.toBe(pid);
    expect(await tcpAnswers(PORT)).toBe(true);
  });

  it('kills what is left of a process that died while nobody watched, then spawns a new one', async () => {
    const first = supervise();
    await first.start();
    const pid = first.pid();
    await first.detach();
    process.kill(pid ?? 0, 'SIGKILL');
    await vi.waitFor(() => expect(processesMentioning(`httpd -f -p 127.0.0.1:${PORT}`)).toEqual([]));
    expect(processesMentioning(`loop ${dir}`)).toHaveLength(1); // the orphan

    const second = supervise();
    await second.start();
    expect(second.pid()).not.toBe(pid);
    expect(processesMentioning(`loop ${dir}`)).toHaveLength(1); // the new leader's own
    expect(await tcpAnswers(PORT)).toBe(true);
  });

  it('does not adopt a live process that runs another command', async () => {
    await writeFile(join(dir, 'httpd.pid'), `${process.pid}\n`);
    const supervisor = supervise();
    await supervisor.start();
    expect(supervisor.pid()).not.toBe(process.pid);
    expect(await tcpAnswers(PORT)).toBe(true);
  });

  it('stop() terminates the process and removes the pid file it wrote', async () => {
    const supervisor = supervise();
    await supervisor.start();
    await supervisor.stop();
    expect(supervisor.pid()).toBeNull();
    expect(await tcpAnswers(PORT)).toBe(false);
    await expect(readFile(join(dir, 'httpd.pid'), 'utf8')).rejects.toMatchObject({ code: 'ENOENT' });
    expect(() => supervisor.signal('SIGHUP')).toThrow(/not running/);
  });

  it('fails start() with ProcessStartError, leaving nothing running, when the process never answers', async () => {
    const supervisor = supervise({ ready: () => tcpAnswers(PORT + 1), readyTimeoutMs: 600 });
    const error: unknown = await supervisor.start().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ProcessStartError);
    expect(String(error)).toMatch(/did not become ready within 600 ms/);
    expect(processesMentioning(dir)).toEqual([]);
  });

  it('fails start() with ProcessStartError when the command does not exist', async () => {
    const supervisor = supervise({ command: join(dir, 'no-such-binary') });
    await expect(supervisor.start()).rejects.toBeInstanceOf(ProcessStartError);
  });
});

function tcpAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, timeout: 500 });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * busybox httpd forks a child for each connection, which can outlive the client's close
 * for a moment: such a child serves for the same server and is not a second one.
 */
function serversMentioning(text: string): number[] {
  const pids = processesMentioning(text);
  return pids.filter((pid) => !pids.includes(parentOf(pid)));
}

function parentOf(pid: number): number {
  try {
    return Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ')[1]);
  } catch {
    // Gone since it was listed: it has no parent to compare.
    return 0;
  }
}

/** Live (non-zombie) processes whose command line contains text. */
function processesMentioning(text: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ');
      const state = readFileSync(`/proc/${entry}/stat`, 'utf8').split(') ')[1]?.[0];
      if (cmdline.includes(text) && state !== 'Z') pids.push(Number(entry));
    } catch {
      // The process ended between listing /proc and reading it.
      continue;
    }
  }
  return pids;
}
