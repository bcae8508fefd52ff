import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { stopChild } from './bench-server.js';
import { get } from './http.js';
import { waitFor } from '../../test/support/docker-harness.js';
import { TLS_SETTINGS } from '../../src/gateway/nginx-config.js';

export interface NginxProxyOptions {
  readonly listenPort: number;
  /** The one upstream, e.g. "172.17.0.5:80". */
  readonly upstream: string;
  /** Serve HTTPS instead, with this file's private key and certificate chain (PEM), loaded once at start. */
  readonly certificateFile?: string;
}

/**
 * The configuration someone would write by hand to proxy one service: a static upstream
 * with keep-alive connections. Worker, keep-alive and proxy settings are berth's own
 * (src/gateway/nginx-config.ts), so the difference measured is what berth adds: its
 * routing module (route table lookup by the first path segment) and the header maps. With
 * a certificate file: its TLS settings too, and the certificate loaded once, where berth's
 * gateway loads the file its module names at each handshake (ADR 010).
 */
export function renderBaselineConfig(dir: string, options: NginxProxyOptions): string {
  const user = process.geteuid?.() === 0 ? `user ${userInfo().username};\n` : '';
  return `daemon off;
worker_processes auto;
${user}pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')} warn;

events {
  worker_connections 4096;
}

http {
  access_log off;
  server_tokens off;
  client_body_temp_path ${join(dir, 'tmp/client_body')};
  proxy_temp_path ${join(dir, 'tmp/proxy')};
  fastcgi_temp_path ${join(dir, 'tmp/fastcgi')};
  uwsgi_temp_path ${join(dir, 'tmp/uwsgi')};
  scgi_temp_path ${join(dir, 'tmp/scgi')};

  upstream service {
    server ${options.upstream};
    keepalive 64;
    keepalive_timeout 4s;
    keepalive_requests 10000;
  }

  server {
    listen 127.0.0.1:${options.listenPort}${options.certificateFile === undefined ? ';' : ` ssl;
    ssl_certificate ${options.certificateFile};
    ssl_certificate_key ${options.certificateFile};
    ${TLS_SETTINGS}`}
    location / {
      proxy_pass http://service;
      proxy_http_version 1.1;
      proxy_set_header Host $http_host;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_set_header Forwarded "";
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Host $http_host;
      proxy_set_header X-Real-IP $remote_addr;
      proxy_request_buffering off;
      proxy_buffering off;
      proxy_connect_timeout 5s;
    }
  }
}
`;
}

/** A hand-configured nginx in the foreground, as a child of the bench. */
export class NginxProxy {
  private constructor(
    private readonly child: ChildProcess,
    readonly dir: string,
    readonly url: string,
  ) {}

  static async start(options: NginxProxyOptions): Promise<NginxProxy> {
    const dir = mkdtempSync(join(tmpdir(), 'berth-bench-nginx-'));
    mkdirSync(join(dir, 'tmp'));
    const config = join(dir, 'nginx.conf');
    writeFileSync(config, renderBaselineConfig(dir, options));
    // In its own session, as berth's gateway is: with the kernel's autogroup scheduling each
    // session is a group that gets its own share of the CPU.
    const child = spawn('/usr/sbin/nginx', ['-e', join(dir, 'error.log'), '-p', dir, '-c', config], { stdio: 'ignore', detached: true });
    const proxy = new NginxProxy(child, dir, `${options.certificateFile === undefined ? 'http' : 'https'}://127.0.0.1:${options.listenPort}`);
    try {
      await waitFor(
        `the baseline nginx on port ${options.listenPort}`,
        async () => {
          if (child.exitCode !== null) throw new Error(`nginx exited ${child.exitCode}: ${proxy.errors()}`);
          return 'status' in (await get(`${proxy.url}/`, 1_000));
        },
        10_000,
        50,
      );
    } catch (error) {
      await proxy.stop();
      throw error;
    }
    return proxy;
  }

  /** The master's pid (nginx runs in the foreground as the bench's child). */
  get pid(): number {
    return this.child.pid ?? -1;
  }

  errors(): string {
    try {
      return readFileSync(join(this.dir, 'error.log'), 'utf8').slice(-2000);
    } catch {
      return '';
    }
  }

  async stop(): Promise<void> {
    await stopChild(this.child);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
