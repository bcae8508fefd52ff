import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerRuntime } from '../../src/runtime/docker/docker-runtime.js';
import { demoTaskSpec, docker, ensureDemoImage, waitFor } from '../support/docker-harness.js';

const INSTANCE = `neigh${process.pid}`;
const LABELS = { 'io.berth.instance': INSTANCE };
const NETWORK = `berth-test-${INSTANCE}`;
/**
 * The test network's ARP retransmit time: long enough that the kernel cannot resolve the
 * address by itself while the test waits, which on the default 1 s it could.
 */
const RETRANS_MS = 20_000;

const runtime = new DockerRuntime({ announceNeighbours: true });
let device = '';

beforeAll(() => {
  ensureDemoImage();
  const id = docker('network', 'create', '--label', `io.berth.instance=${INSTANCE}`, NETWORK);
  device = `br-${id.slice(0, 12)}`;
  // The network's own bridge: no other test's connects wait on this setting.
  writeFileSync(`/proc/sys/net/ipv4/neigh/${device}/retrans_time_ms`, String(RETRANS_MS));
});

afterAll(() => {
  for (const id of docker('ps', '-aq', '--filter', `label=io.berth.instance=${INSTANCE}`).split('\n').filter(Boolean)) {
    docker('rm', '-f', id);
  }
  docker('network', 'rm', NETWORK);
});

/** Creates a task with the runtime, moves it from the default bridge to the test network, and starts it with the runtime. */
async function startTask(n: number): Promise<{ id: string; ip: string; mac: string }> {
  const id = await runtime.createTask(demoTaskSpec(`berth-${INSTANCE}-${n}`, LABELS));
  docker('network', 'disconnect', 'bridge', id);
  docker('network', 'connect', NETWORK, id);
  await runtime.startTask(id);
  const format = `{{with index .NetworkSettings.Networks "${NETWORK}"}}{{.IPAddress}} {{.MacAddress}}{{end}}`;
  const [ip = '', mac = ''] = docker('inspect', '-f', format, id).split(' ');
  return { id, ip, mac };
}

/** The host's entry for address on the test network's bridge, e.g. "172.18.0.2 lladdr 02:42:ac:12:00:02 STALE", or "". */
function neighbour(address: string): string {
  return execFileSync('ip', ['neigh', 'show', address, 'dev', device], { encoding: 'utf8' }).trim();
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
  it("becomes known to the host, where the host's unanswered request for the address would hold its first connects until the kernel asks again", async () => {
    // Another task keeps the bridge up: with no port left, the kernel drops its entries.
    await startTask(0);
    const dead = await startTask(1);
    await runtime.signalTask(dead.id, 'SIGKILL');
    await runtime.removeTask(dead.id);
    // Whatever entry the dead task left goes; a packet to its address then finds nobody.
    execFileSync('ip', ['neigh', 'flush', 'to', dead.ip, 'dev', device]);
    await knock(dead.ip);
    expect(neighbour(dead.ip)).toMatch(/INCOMPLETE|FAILED/);

    const replacement = await startTask(2);
    // The engine hands out the lowest free address, so the replacement gets the dead task's.
    expect(replacement.ip).toBe(dead.ip);
    // Set after the start returned, without holding it up.
    const known = new RegExp(`lladdr ${replacement.mac} (STALE|DELAY|REACHABLE|PROBE)`);
    await waitFor('the host to know the replacement', async () => known.test(neighbour(replacement.ip)), 5_000, 10);
  });
});
