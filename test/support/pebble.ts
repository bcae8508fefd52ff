import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from './docker-harness.js';

export interface PebbleOptions {
  /** Four ports from here: ACME, pebble's management, DNS, the DNS server's management. */
  readonly basePort: number;
  /** Where the ACME server validates HTTP-01 challenges: the gateway's plain HTTP port. */
  readonly httpPort: number;
  /** The lifetime of the certificates it issues. */
  readonly validitySeconds: number;
  /** Extra environment for pebble (PEBBLE_VA_SLEEPTIME, say). */
  readonly env?: Readonly<Record<string, string>>;
}

/**
 * Debian's pebble, the ACME test server, on loopback, with its own TLS certificate made here
 * and pebble-challtestsrv as its DNS server, which answers 127.0.0.1 for every name (so any
 * test host name validates against the gateway) unless told otherwise with setAddress().
 */
export class Pebble {
  private constructor(
    private readonly dir: string,
    private readonly children: ChildProcess[],
    readonly directoryUrl: string,
    /** The CA of pebble's own HTTPS certificate: what the ACME client must trust. */
    readonly caFile: string,
    private readonly managementUrl: string,
    private readonly dnsManagementUrl: string,
  ) {}

  static async start(options: PebbleOptions): Promise<Pebble> {
    const dir = mkdtempSync(join(tmpdir(), 'berth-pebble-'));
    const [acmePort, managementPort, dnsPort, dnsManagementPort] = [0, 1, 2, 3].map((i) => options.basePort + i) as [number, number, number, number];
    const ca = join(dir, 'ca.pem');
    const openssl = (...args: string[]): void => void execFileSync('openssl', args, { stdio: 'pipe' });
    openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'ca.key'), '-out', ca, '-days', '2', '-subj', '/CN=berth test pebble CA');
    openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'csr.pem'), '-subj', '/CN=127.0.0.1');
    writeFileSync(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
    openssl('x509', '-req', '-in', join(dir, 'csr.pem'), '-CA', ca, '-CAkey', join(dir, 'ca.key'), '-CAcreateserial', '-out', join(dir, 'cert.pem'), '-days', '2', '-extfile', join(dir, 'san.ext'));
    writeFileSync(
      join(dir, 'pebble.json'),
      JSON.stringify({
        pebble: {
          listenAddress: `127.0.0.1:${acmePort}`,
          managementListenAddress: `127.0.0.1:${managementPort}`,
          certificate: join(dir, 'cert.pem'),
          privateKey: join(dir, 'key.pem'),
          httpPort: options.httpPort,
          tlsPort: options.basePort + 4,
          ocspResponderURL: '',
          externalAccountBindingRequired: false,
          certificateValidityPeriod: options.validitySeconds,
        },
      }),
    );
    const children: ChildProcess[] = [];
    const pebble = new Pebble(dir, children, `https://127.0.0.1:${acmePort}/dir`, ca, `https://127.0.0.1:${managementPort}`, `http://127.0.0.1:${dnsManagementPort}`);
    try {
      children.push(
        spawnLogged(
          'pebble-challtestsrv',
          ['-defaultIPv4', '127.0.0.1', '-defaultIPv6', '', '-dns01', `127.0.0.1:${dnsPort}`, '-http01', '', '-https01', '', '-tlsalpn01', '', '-management', `127.0.0.1:${dnsManagementPort}`],
          join(dir, 'challtestsrv.log'),
          {},
        ),
      );
      children.push(
        spawnLogged('pebble', ['-config', join(dir, 'pebble.json'), '-dnsserver', `127.0.0.1:${dnsPort}`], join(dir, 'pebble.log'), {
          PEBBLE_VA_NOSLEEP: '1',
          PEBBLE_WFE_NONCEREJECT: '0',
          PEBBLE_AUTHZREUSE: '0',
          ...options.env,
        }),
      );
      await waitFor('pebble to serve its directory', async () => (await pebble.fetch(pebble.directoryUrl)).includes('newOrder'), 20_000, 100);
      await waitFor('pebble-challtestsrv to answer', async () => (await fetch(`${pebble.dnsManagementUrl}/clear-a`, { method: 'POST', body: '{"host":"x.test"}' })).ok, 20_000, 100);
    } catch (error) {
      await pebble.stop();
      throw new Error(`${(error as Error).message}\n${pebble.logs()}`);
    }
    return pebble;
  }

  /** Makes the DNS answer these addresses for host (only loopback ones here), or the default 127.0.0.1 again with null. */
  async setAddress(host: string, addresses: readonly string[] | null): Promise<void> {
    const path = addresses === null ? 'clear-a' : 'add-a';
    const res = await fetch(`${this.dnsManagementUrl}/${path}`, { method: 'POST', body: JSON.stringify({ host: `${host}.`, ...(addresses ? { addresses } : {}) }) });
    if (!res.ok) throw new Error(`pebble-challtestsrv ${path}: ${res.status} ${await res.text()}`);
  }

  /** The root the certificates pebble issues chain to (it makes a new one at each start). */
  async root(): Promise<string> {
    return this.fetch(`${this.managementUrl}/roots/0`);
  }

  logs(): string {
    return ['challtestsrv.log', 'pebble.log'].map((name) => `${name}:\n${tail(join(this.dir, name))}`).join('\n');
  }

  async stop(): Promise<void> {
    await Promise.all(this.children.map((child) => stopChild(child)));
    rmSync(this.dir, { recursive: true, force: true });
  }

  private fetch(url: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const req = request(url, { ca: readFileSync(this.caFile), timeout: 5_000 }, (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`${url}: ${res.statusCode} ${body}`))));
      });
      req.on('timeout', () => req.destroy(new Error(`${url} timed out`)));
      req.on('error', reject);
      req.end();
    });
  }
}

function spawnLogged(command: string, args: string[], logFile: string, env: Record<string, string>): ChildProcess {
  writeFileSync(logFile, '');
  const child = spawn(command, args, { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const append = (data: Buffer): void => writeFileSync(logFile, data, { flag: 'a' });
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  child.on('error', (error) => append(Buffer.from(`${command}: ${error.message}\n`)));
  return child;
}

/** SIGTERM, then SIGKILL after 5 s; resolves once it has exited. */
async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').slice(-3000);
  } catch {
    return '';
  }
}
