import { execFileSync } from 'node:child_process';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerRuntime } from '../../src/runtime/docker/docker-runtime.js';
import { demoTaskSpec, docker, ensureDemoImage } from '../support/docker-harness.js';

const INSTANCE = `neigh${process.pid}`;
const LABELS = { 'io.berth.instance': INSTANCE };

const runtime = new DockerRuntime({ announceNeighbours: true });

beforeAll(() => {
  ensureDemoImage();
});

afterAll(() => {
  for (const id of docker('ps', '-aq', '--filter', `label=io.berth.instance=${INSTANCE}`).split('\n').filter(Boolean)) {
    docker('rm', '-f', id);
  }
});

async function startTask(n: number): Promise<{ id: string; ip: string; mac: string }> {
  const id = await runtime.create(demoTaskSpec(`berth-${INSTANCE}-${n}`, LABELS));
  await runtime.start(id);
  const [ip = '', mac = ''] = docker('inspect', '-f', '{{.NetworkSettings.IPAddress}} {{.NetworkSettings.MacAddress}}', id).split(' ');
  return { id, ip, mac };
}

/** The host's entry for address on docker0, e.g. "172.17.0.2 lladdr 02:42:ac:11:00:02 STALE", or "". */
function neighbour(address: string): string {
  return execFileSync('ip', ['neigh', 'show', address, 'dev', 'docker0'], { encoding: 'utf8' }).trim();
}

/** A connect attempt to an address nobody has: the host asks for it and queues the SYN. */
function knock(address: string): Promise<void> {
  return new Promise((resolve) => {
    const socket = connect({ host: address, port: 80 });
    const done = (): void => {
      socket.destroy();
      resolve();
    };
    socket.setTimeout(100, done);
    socket.on('error', done);
    socket.on('connect', done);
  });
}

describe('a task started with the address of one that died', () => {
  it("is known to the host at once, where the host's unanswered request for the address would hold its first connects up to 1 s", async () => {
    // Another task keeps the bridge up: with no port left, the kernel drops its entries.
    await startTask(0);
    const dead = await startTask(1);
    await runtime.signal(dead.id, 'SIGKILL');
    await runtime.remove(dead.id);
    // Whatever entry the dead task left goes; a packet to its address then finds nobody.
    execFileSync('ip', ['neigh', 'flush', 'to', dead.ip, 'dev', 'docker0']);
    await knock(dead.ip);
    expect(neighbour(dead.ip)).toMatch(/INCOMPLETE|FAILED/);

    const replacement = await startTask(2);
    // The engine hands out the lowest free address, so the replacement gets the dead task's.
    expect(replacement.ip).toBe(dead.ip);
    expect(neighbour(replacement.ip)).toMatch(new RegExp(`lladdr ${replacement.mac} (STALE|DELAY|REACHABLE|PROBE)`));
  });
});
