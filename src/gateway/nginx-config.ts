import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { isHostName } from '../domain/certificates.js';
import { ConfigError } from '../domain/errors.js';

/**
 * Where the gateway keeps its files: what only nginx's master reads or writes (config, pid,
 * logs) under its data dir, what its workers use (the route table, the internal sockets,
 * temp files) under the worker dir, which the workers' unprivileged user can reach.
 */
export interface NginxPaths {
  readonly workerDir: string;
  readonly configFile: string;
  /** Written by nginx itself (the `pid` directive); the supervisor adopts nginx through it. */
  readonly pidFile: string;
  readonly errorLog: string;
  /** nginx's stdout and stderr, and the supervisor's restart notes. */
  readonly processLog: string;
  readonly tempDir: string;
  /** Internal servers the balancer sends a request to when no target can take it. */
  readonly notFoundSocket: string;
  readonly unavailableSocket: string;
  /** Answers 400 to a request whose raw path names another service than its normalised path. */
  readonly badRequestSocket: string;
  /** A symbolic link to the current route table file, beside the table files (route-table-file.ts). */
  readonly routesLink: string;
  /** The certificates TLS handshakes load (served-certificates.ts). */
  readonly certificateDir: string;
  /** The answers to ACME HTTP-01 challenges (acme-challenge-files.ts). */
  readonly challengeDir: string;
}

export function nginxPaths(dataDir: string, workerDir: string = dataDir): NginxPaths {
  return {
    workerDir,
    configFile: join(dataDir, 'nginx.conf'),
    pidFile: join(dataDir, 'nginx.pid'),
    errorLog: join(dataDir, 'logs', 'error.log'),
    processLog: join(dataDir, 'logs', 'nginx.log'),
    tempDir: join(workerDir, 'tmp'),
    notFoundSocket: join(workerDir, 'run', 'not-found.sock'),
    unavailableSocket: join(workerDir, 'run', 'unavailable.sock'),
    badRequestSocket: join(workerDir, 'run', 'bad-request.sock'),
    routesLink: join(workerDir, 'routes', 'current'),
    certificateDir: join(workerDir, 'certs'),
    challengeDir: join(workerDir, 'acme-challenge'),
  };
}

export interface NginxConfigInput {
  readonly listenHost: string;
  readonly listenPort: number;
  /** Served on 127.0.0.1 only. */
  readonly adminPort: number;
  readonly paths: NginxPaths;
  /** berth's nginx module (ngx_http_berth_routes_module.so), which picks every peer. */
  readonly moduleFile: string;
  /** Only when nginx starts as root: the unprivileged user and group its workers run as. */
  readonly worker?: { readonly user: string; readonly group: string };
  /** Host routing: a request for `<name>.<publicDomain>` goes to the route `/<name>`, its path unchanged. */
  readonly publicDomain?: string;
  readonly tls?: NginxTlsInput;
  /** Count requests and latency per route (issue 22); off only to measure what counting costs. */
  readonly routeMetrics: boolean;
}

/** HTTPS beside plain HTTP, which then only redirects to it (and answers ACME challenges). */
export interface NginxTlsInput {
  readonly listenHost: string;
  readonly listenPort: number;
  /** The port of the https:// URL plain HTTP is redirected to (443 is left out of the URL). */
  readonly redirectPort: number;
  /** Serve ACME HTTP-01 answers from paths.challengeDir on the plain HTTP address. */
  readonly acmeChallenges: boolean;
}

/**
 * TLS settings of the gateway's HTTPS server; the bench's hand-written nginx uses the same
 * ones, so that the comparison measures what berth adds, not different ciphers or caches.
 */
export const TLS_SETTINGS = `ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache shared:berth_tls:10m;
    ssl_session_timeout 1h;`;

export interface NginxConfig {
  readonly text: string;
  /** Hash of the text; the admin endpoint answers it at /config-id, so berth can tell which config runs. */
  readonly id: string;
}

/** sockaddr_un holds 108 bytes including the terminating NUL. */
const MAX_SOCKET_PATH = 107;
const ID_PLACEHOLDER = '@@BERTH_CONFIG_ID@@';

/** The static nginx.conf. Routes are not in it: berth's module reads them from a file and they change without reload. */
export function renderNginxConfig(input: NginxConfigInput): NginxConfig {
  validate(input);
  const { paths } = input;
  const q = quote;
  const template = `# Written by berth; edits are overwritten.
daemon off;
worker_processes auto;
${input.worker === undefined ? '' : `user ${input.worker.user} ${input.worker.group};\n`}pid ${q(paths.pidFile)};
error_log ${q(paths.errorLog)} warn;
# Old workers of a reload drain long requests (websockets) for at most this long.
worker_shutdown_timeout 60s;

load_module ${q(input.moduleFile)};

events {
  worker_connections 4096;
}

http {
  access_log off;
  server_tokens off;
  default_type application/octet-stream;
  client_body_temp_path ${q(join(paths.tempDir, 'client_body'))};
  proxy_temp_path ${q(join(paths.tempDir, 'proxy'))};
  fastcgi_temp_path ${q(join(paths.tempDir, 'fastcgi'))};
  uwsgi_temp_path ${q(join(paths.tempDir, 'uwsgi'))};
  scgi_temp_path ${q(join(paths.tempDir, 'scgi'))};

  # An empty Connection header keeps upstream connections alive; websockets need "upgrade".
  map $http_upgrade $berth_connection {
    default upgrade;
    "" "";
  }
  # HTTP/1.0 clients may send no Host; targets speak HTTP/1.1, which requires one.
  map $http_host $berth_host {
    default $http_host;
    "" $host;
  }

${input.tls === undefined ? '' : `  # $berth_certificate: the certificate file for a handshake's server name (ADR 010).
  berth_certificates ${q(paths.certificateDir)};

`}  # Requests and latency per route, shared by the workers (ngx_http_berth_metrics_module).
  berth_metrics_zone 2m;

  upstream berth_targets {
    # A placeholder nginx requires: berth_routes picks every peer.
    server 0.0.0.1;
    berth_routes ${q(paths.routesLink)}
      ${q(`not_found=unix:${paths.notFoundSocket}`)}
      ${q(`unavailable=unix:${paths.unavailableSocket}`)}
      ${q(`bad_request=unix:${paths.badRequestSocket}`)}${input.publicDomain === undefined ? '' : `
      ${q(`host_suffix=.${input.publicDomain}`)}`};
    # After berth_routes, which it wraps: connections are kept per peer address.
    keepalive 64;
    # Below Node's 5 s default, so nginx does not reuse a connection the target is closing.
    keepalive_timeout 4s;
    keepalive_requests 10000;
  }

${servers(input)}
  server {
    listen ${q(`unix:${paths.notFoundSocket}`)};
    default_type text/plain;
    return 404 "no service is deployed at this path\\n";
  }

  server {
    listen ${q(`unix:${paths.unavailableSocket}`)};
    default_type text/plain;
    return 503 "no healthy task for this service\\n";
  }

  server {
    listen ${q(`unix:${paths.badRequestSocket}`)};
    default_type text/plain;
    return 400 "the path does not stay under the service it names\\n";
  }

  server {
    listen 127.0.0.1:${input.adminPort};

    location = /route-metrics {
      berth_metrics;
    }
    location = /config-id {
      default_type text/plain;
      return 200 "${ID_PLACEHOLDER}";
    }
    location / {
      return 404;
    }
  }
}
`;
  const id = createHash('sha256').update(template).digest('hex').slice(0, 16);
  return { text: template.replace(ID_PLACEHOLDER, id), id };
}

/** Plain HTTP serves the routes, or with TLS redirects to HTTPS, which serves them. */
function servers(input: NginxConfigInput): string {
  const http = listenAddress(input.listenHost, input.listenPort);
  const { tls } = input;
  if (tls === undefined) {
    return `  server {
    listen ${http};
    server_name _;
    client_max_body_size 0;
${proxyLocation(input.routeMetrics)}
  }
`;
  }
  const port = tls.redirectPort === 443 ? '' : `:${tls.redirectPort}`;
  const challenges = tls.acmeChallenges
    ? `
    # The ACME server's HTTP-01 requests, answered by nginx from the files berth writes.
    location ^~ /.well-known/acme-challenge/ {
      alias ${quote(`${input.paths.challengeDir}/`)};
      default_type text/plain;
    }`
    : '';
  return `  server {
    listen ${http};
    server_name _;
${challenges}
    location / {
      return 308 https://$host${port}$request_uri;
    }
  }

  server {
    listen ${listenAddress(tls.listenHost, tls.listenPort)} ssl;
    server_name _;
    # Read per handshake, so a renewed certificate is served without a reload.
    ssl_certificate $berth_certificate;
    ssl_certificate_key $berth_certificate;
    ${TLS_SETTINGS}
    client_max_body_size 0;
${proxyLocation(input.routeMetrics)}
  }
`;
}

function proxyLocation(routeMetrics: boolean): string {
  return `    location / {
      # No URI part: the path goes to the target unchanged, unless its route strips the prefix.
      berth_strip_prefix on;
      berth_route_metrics ${routeMetrics ? 'on' : 'off'};
      proxy_pass http://berth_targets;
      proxy_http_version 1.1;
      proxy_set_header Host $berth_host;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $berth_connection;
      # berth is the edge: what a client claims about earlier hops is dropped, not passed on.
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_set_header Forwarded "";
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Host $berth_host;
      proxy_set_header X-Real-IP $remote_addr;
      proxy_request_buffering off;
      proxy_buffering off;
      proxy_connect_timeout 5s;
      proxy_send_timeout 1h;
      proxy_read_timeout 1h;
      # A connect error to a target that just died is retried on another; nginx never
      # resends a POST that reached a target.
      proxy_next_upstream error timeout;
      proxy_next_upstream_tries 3;
      proxy_next_upstream_timeout 10s;
    }`;
}

function listenAddress(host: string, port: number): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`;
}

function quote(value: string): string {
  return `"${value}"`;
}

// Characters that would end a quoted nginx string or an argument, or start a variable.
const UNSAFE = /["'\\$\s;{}]/;

function validateTls(tls: NginxTlsInput, input: NginxConfigInput): void {
  if (tls.listenHost === '' || UNSAFE.test(tls.listenHost)) {
    throw new ConfigError(`gateway TLS listen host '${tls.listenHost}' is not a host name or address`);
  }
  for (const [what, port] of [
    ['gateway TLS listen port', tls.listenPort],
    ['HTTPS redirect port', tls.redirectPort],
  ] as const) {
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new ConfigError(`${what} must be an integer between 1 and 65535, not ${port}`);
    }
  }
  if (tls.listenPort === input.adminPort || (tls.listenPort === input.listenPort && tls.listenHost === input.listenHost)) {
    throw new ConfigError(`the gateway TLS listen address must differ from the plain HTTP and admin addresses (port ${tls.listenPort})`);
  }
}

function validate(input: NginxConfigInput): void {
  if (input.listenHost === '' || UNSAFE.test(input.listenHost)) {
    throw new ConfigError(`gateway listen host '${input.listenHost}' is not a host name or address`);
  }
  for (const [what, port] of [
    ['gateway listen port', input.listenPort],
    ['gateway admin port', input.adminPort],
  ] as const) {
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new ConfigError(`${what} must be an integer between 1 and 65535, not ${port}`);
    }
  }
  if (input.adminPort === input.listenPort) {
    throw new ConfigError(`the gateway admin port must differ from the listen port (${input.listenPort})`);
  }
  if (input.tls !== undefined) validateTls(input.tls, input);
  if (input.publicDomain !== undefined && !isHostName(input.publicDomain)) {
    throw new ConfigError(`public domain '${input.publicDomain.slice(0, 260)}' is not a lowercase DNS name`);
  }
  const paths = [...Object.values(input.paths), input.moduleFile];
  for (const path of paths) {
    if (UNSAFE.test(path)) throw new ConfigError(`gateway path '${path}' contains quotes, '$', ';', braces or spaces`);
  }
  for (const socket of [input.paths.notFoundSocket, input.paths.unavailableSocket, input.paths.badRequestSocket]) {
    if (Buffer.byteLength(socket) > MAX_SOCKET_PATH) {
      throw new ConfigError(`gateway socket path '${socket}' is longer than ${MAX_SOCKET_PATH} bytes; use a shorter data dir`);
    }
  }
  for (const name of input.worker === undefined ? [] : [input.worker.user, input.worker.group]) {
    if (!/^[a-z_][a-z0-9_-]*\$?$/i.test(name)) throw new ConfigError(`'${name}' is not a user or group name`);
  }
}
