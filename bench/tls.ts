import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '../test/support/docker-harness.js';
import { Pebble } from '../test/support/pebble.js';
import { servedCertificate } from '../test/support/tls-client.js';
import { definition } from './lib/api.js';
import { BenchServer } from './lib/bench-server.js';
import type { BenchContext } from './lib/context.js';
import { containersWithLabel, docker } from './lib/docker.js';
import { get } from './lib/http.js';
import { UPSTREAM_IMAGE } from './lib/images.js';
import { NginxProxy } from './lib/nginx-baseline.js';
import { cpuMsOfTree, pinTree, readPid } from './lib/proc.js';
import { paired } from './lib/stats.js';
import { runWrk, wrkFailures, type WrkResult } from './lib/wrk.js';

// Ports 17700-17704 (berth: API, gateway, admin, registry, HTTPS), 17705 and 17706 (the
// hand-written nginx and its twin), 17710-17714 (pebble and its DNS server).
const BASE_PORT = 17700;
const TLS_PORT = BASE_PORT + 4;
const NGINX_PORT = 17705;
const TWIN_PORT = 17706;
const PEBBLE_PORT = 17710;
const HOST = 'bench.test';
const CONNECTIONS = 16;
const PROXY_CPUS = '0';
const LOAD_CPUS = '1';
const CONTROL_ROUNDS = 4;
const RENEWALS = 3;
/** Long enough for a renewal against pebble (about a second) to land well inside it. */
const RENEWAL_LOAD_SECONDS = 8;

export interface TlsOptions {
  readonly runs: number;
  readonly seconds: number;
}

type Path = 'berth' | 'nginx' | 'twin';

/**
 * HTTPS through berth's gateway, with a certificate from an ACME server (Debian's pebble on
 * loopback), against a hand-written nginx TLS proxy with the same certificate and TLS settings
 * (bench/lib/nginx-baseline.ts), in the same run:
 * - Throughput with keep-alive, both proxies loaded at the same moment and pinned to one CPU,
 *   wrk and the upstream to the other (ADR 004, as the gateway bench): the goal's ratio. A
 *   control loads the hand-written nginx with an identical twin.
 * - Throughput with a new connection, so a full handshake, per request (Connection: close):
 *   where berth's way of serving certificates costs, as it loads the certificate file its
 *   module names at each handshake (ADR 010).
 * - Failed requests while berth renews its certificate (`POST /certs/<host>/renew`, a new key
 *   and a new certificate from pebble) under keep-alive load and under a stream of new
 *   handshakes: the goal is none. The same load on the hand-written nginx while it reloads
 *   (SIGHUP) shows what a reload costs instead.
 */
export async function runTls(ctx: BenchContext, options: TlsOptions): Promise<void> {
  await ctx.scoped(async (scope) => {
    ctx.log('tls: starting pebble and a server with --tls acme');
    const pebble = await Pebble.start({ basePort: PEBBLE_PORT, httpPort: BASE_PORT + 1, validitySeconds: 24 * 3600 });
    scope.defer('pebble', () => pebble.stop());
    const server = await BenchServer.start({
      basePort: BASE_PORT,
      extra: {
        tls: 'acme',
        publicUrl: `https://${HOST}:${TLS_PORT}`,
        gatewayTlsListen: `127.0.0.1:${TLS_PORT}`,
        acmeDirectory: pebble.directoryUrl,
        acmeEmail: 'bench@bench.test',
        acmeCaFile: pebble.caFile,
      },
    });
    scope.defer('tls server', () => server.destroy());
    const api = await server.admin.project('bench');
    await api.createService('tls');
    const id = await api.deploy('tls', definition({ image: UPSTREAM_IMAGE, 'memory-reservation': 16, 'memory-limit': 64 }));
    const doc = await api.waitDeployment('tls', id, 60_000);
    if (doc.step !== 'succeeded') throw new Error(`deployment ended ${doc.step}: ${doc.reason}`);
    const berthUrl = `https://127.0.0.1:${TLS_PORT}/bench-tls/`;
    await waitFor(
      `${berthUrl} to answer 200 over HTTPS`,
      async () => {
        const outcome = await get(berthUrl, 2_000);
        return 'status' in outcome && outcome.status === 200;
      },
      60_000,
      100,
    );

    const target = (await api.status('tls')).target_health.targets[0];
    const upstream = `${target.target}:${target.port}`;
    // The certificate berth got, loaded once by the hand-written nginx.
    const certDir = mkdtempSync(join(tmpdir(), 'berth-bench-tls-'));
    scope.defer('certificate copy', () => rmSync(certDir, { recursive: true, force: true }));
    const certificateFile = join(certDir, `${HOST}.pem`);
    copyFileSync(join(server.dataDir, 'tls', 'certs', `${HOST}.pem`), certificateFile);
    const nginx = await NginxProxy.start({ listenPort: NGINX_PORT, upstream, certificateFile });
    scope.defer('baseline nginx', () => nginx.stop());
    const twin = await NginxProxy.start({ listenPort: TWIN_PORT, upstream, certificateFile });
    scope.defer('twin nginx', () => twin.stop());
    const berthMaster = readPid(join(server.dataDir, 'nginx', 'nginx.pid'));
    if (berthMaster === null) throw new Error("no pid file for berth's nginx");

    const urls: Record<Path, string> = { berth: berthUrl, nginx: `${nginx.url}/bench-tls/`, twin: `${twin.url}/bench-tls/` };
    const load = (path: Path, seconds: number, close = false, connections = CONNECTIONS): Promise<WrkResult> =>
      runWrk({ url: urls[path], threads: 1, connections, durationSeconds: seconds, cpus: LOAD_CPUS, ...(close ? { headers: { Connection: 'close' } } : {}) });

    ctx.log(`tls: upstream ${upstream}; warming up`);
    for (const path of ['berth', 'nginx', 'twin'] as const) await runWrk({ url: urls[path], threads: 1, connections: CONNECTIONS, durationSeconds: 2 });
    for (const master of [berthMaster, nginx.pid, twin.pid]) pinTree(master, PROXY_CPUS);
    await docker(['update', '--cpuset-cpus', LOAD_CPUS, ...(await containersWithLabel(`io.berth.instance=${server.instance}`, true))]);

    let berthFailures = 0;
    const masters: Record<Path, number> = { berth: berthMaster, nginx: nginx.pid, twin: twin.pid };
    /** CPU time each proxy used per request in the rounds with a handshake per request, in µs. */
    const handshakeCpu: Record<'berth' | 'nginx', number[]> = { berth: [], nginx: [] };
    /** Both loaded at the same moment; the throughput of a over that of b. */
    const together = async (a: Path, b: Path, close: boolean): Promise<number> => {
      const cpuBefore = [cpuMsOfTree(masters[a]), cpuMsOfTree(masters[b])];
      const [x, y] = await Promise.all([load(a, options.seconds, close), load(b, options.seconds, close)]);
      if (close && a === 'berth' && b === 'nginx') {
        handshakeCpu.berth.push(((cpuMsOfTree(masters[a]) - (cpuBefore[0] as number)) * 1000) / x.requests);
        handshakeCpu.nginx.push(((cpuMsOfTree(masters[b]) - (cpuBefore[1] as number)) * 1000) / y.requests);
      }
      if (a === 'berth') berthFailures += wrkFailures(x);
      const ratio = x.requestsPerSecond / y.requestsPerSecond;
      ctx.log(
        `tls: together${close ? ' (a handshake per request)' : ''} ${a} ${x.requestsPerSecond.toFixed(0)} req/s, ${b} ${y.requestsPerSecond.toFixed(0)} req/s: ${ratio.toFixed(3)}, failures ${wrkFailures(x)} and ${wrkFailures(y)}`,
      );
      return ratio;
    };
    const keepAlive: number[] = [];
    const control: number[] = [];
    const handshakes: number[] = [];
    for (let round = 0; round < options.runs * 2; round++) {
      keepAlive.push(await together('berth', 'nginx', false));
      if (round % 2 === 1 && control.length < CONTROL_ROUNDS) control.push(await together('twin', 'nginx', false));
      if (round % 2 === 0) handshakes.push(await together('berth', 'nginx', true));
    }

    ctx.log(`tls: ${RENEWALS} renewals of ${HOST} under load`);
    const renewals: { keepAliveFailures: number; handshakeFailures: number; requests: number; renewed: boolean }[] = [];
    for (let i = 0; i < RENEWALS; i++) {
      const before = await servedCertificate(TLS_PORT, HOST);
      const loads = Promise.all([load('berth', RENEWAL_LOAD_SECONDS), load('berth', RENEWAL_LOAD_SECONDS, true, 4)]);
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      const renewal = await server.admin.call('POST', `/certs/${HOST}/renew`, undefined, 150_000);
      const [kept, fresh] = await loads;
      const after = await servedCertificate(TLS_PORT, HOST);
      const renewed = renewal.status === 200 && after.serial !== before.serial;
      renewals.push({ keepAliveFailures: wrkFailures(kept), handshakeFailures: wrkFailures(fresh), requests: kept.requests + fresh.requests, renewed });
      ctx.log(`tls: renewal ${i + 1}: ${renewal.status}${renewed ? ', a new certificate served' : ` NOT RENEWED: ${JSON.stringify(renewal.json)}`}; failures ${wrkFailures(kept)} keep-alive, ${wrkFailures(fresh)} new connections, of ${kept.requests + fresh.requests}`);
      if (!renewed) throw new Error(`renewal ${i + 1} did not serve a new certificate: ${renewal.status} ${JSON.stringify(renewal.json)}`);
    }

    ctx.log(`tls: ${RENEWALS} reloads of the hand-written nginx under the same load`);
    const reloads: number[] = [];
    for (let i = 0; i < RENEWALS; i++) {
      const loads = Promise.all([load('nginx', RENEWAL_LOAD_SECONDS), load('nginx', RENEWAL_LOAD_SECONDS, true, 4)]);
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      process.kill(nginx.pid, 'SIGHUP');
      const [kept, fresh] = await loads;
      reloads.push(wrkFailures(kept) + wrkFailures(fresh));
      ctx.log(`tls: reload ${i + 1}: failures ${wrkFailures(kept)} keep-alive, ${wrkFailures(fresh)} new connections, of ${kept.requests + fresh.requests}`);
    }

    ctx.raw.tls = {
      upstream: `${UPSTREAM_IMAGE} at ${upstream}`,
      wrk: `-t1 -c${CONNECTIONS} -d${options.seconds}s each, loaded together; a handshake per request: the same with Connection: close`,
      together: { berthOverNginx: keepAlive, twinOverNginx: control, handshakesBerthOverNginx: handshakes },
      handshakeCpuUsPerRequest: handshakeCpu,
      renewals,
      reloadFailures: reloads,
    };
    ctx.record({
      bench: 'tls',
      name: 'HTTPS throughput, berth vs hand-written nginx, loaded together',
      unit: 'ratio',
      values: keepAlive,
      comparisons: keepAlive,
      goal: { kind: 'ratio-min', limit: 0.95 },
      note: 'keep-alive; the same certificate and TLS settings; each value is berth req/s over nginx req/s in one round',
    });
    ctx.record({
      bench: 'tls',
      name: 'control: identical nginx vs nginx over HTTPS, loaded together',
      unit: 'ratio',
      values: control,
      comparisons: control,
      goal: { kind: 'info' },
      note: 'how far the method itself strays from 1',
    });
    ctx.record({
      bench: 'tls',
      name: 'HTTPS with a handshake per request, berth vs hand-written nginx',
      unit: 'ratio',
      values: handshakes,
      comparisons: handshakes,
      goal: { kind: 'info' },
      note: "Connection: close; berth loads the certificate file at each handshake, nginx's is loaded once",
    });
    ctx.record({
      bench: 'tls',
      name: 'nginx CPU per request with a handshake each, berth vs hand-written',
      unit: 'µs',
      values: handshakeCpu.berth,
      baseline: handshakeCpu.nginx,
      comparisons: paired(handshakeCpu.berth, handshakeCpu.nginx, (x, y) => x / y),
      goal: { kind: 'info' },
      note: 'what loading the certificate at each handshake costs the proxy, whichever side of the load ran out of CPU first',
    });
    ctx.record({
      bench: 'tls',
      name: `failed requests during ${RENEWALS} certificate renewals`,
      unit: 'requests',
      values: [renewals.reduce((sum, r) => sum + r.keepAliveFailures + r.handshakeFailures, 0) + berthFailures],
      goal: { kind: 'value-max', limit: 0 },
      note: 'keep-alive load and new connections while berth renews (a new key), plus every failure through berth in the throughput rounds',
    });
    ctx.record({
      bench: 'tls',
      name: `failed requests during ${RENEWALS} reloads of the hand-written nginx`,
      unit: 'requests',
      values: reloads,
      goal: { kind: 'info' },
      note: 'the same load; what renewing by reload would cost (ADR 010)',
    });
  });
}
