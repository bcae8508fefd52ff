import { isHostName } from '../domain/certificates.js';
import { ConfigError } from '../domain/errors.js';
import { connectAddress, connectUrl, parseListen, type ListenAddress } from '../net/listen-address.js';
import { formatCidr, parsePool } from '../runtime/docker/subnets.js';

export interface ServerConfig {
  readonly dataDir: string;
  readonly apiListen: ListenAddress;
  readonly gatewayListen: ListenAddress;
  /** nginx's route-table endpoint, on 127.0.0.1 only. */
  readonly gatewayAdminPort: number;
  /** When berth runs as root: the account nginx's workers run as; null for the default (www-data, else nobody). */
  readonly gatewayUser: string | null;
  /** IPv4 range each project network's /22 is carved from. */
  readonly networkPool: string;
  readonly registryListen: ListenAddress;
  readonly publicUrl: string;
  readonly adminToken: string | null;
  readonly memoryCapacityMiB: number | null;
  readonly healthTimeoutSeconds: number;
  readonly drainSeconds: number;
  readonly stopGraceSeconds: number;
  readonly tls: TlsConfig;
  /** Host routing: `<project>-<service>.<publicDomain>` serves the service with its path unchanged. */
  readonly publicDomain: string | null;
  /** The Docker engine's unix socket. */
  readonly dockerSocket: string;
  /** swarm: a Swarm manager runs tasks on every node; engine: containers on one engine; auto: swarm on a manager. */
  readonly orchestrator: 'auto' | 'swarm' | 'engine';
  /** Host ports stacks may publish on, inclusive; null: none, every port is reached through the gateway. */
  readonly hostPorts: { readonly min: number; readonly max: number } | null;
  /** Absolute host directories stacks may bind-mount from. */
  readonly allowBindMounts: readonly string[];
  /** Where /metrics is served without a token; null: only on the API, with the admin token. */
  readonly metricsListen: ListenAddress | null;
}

/** HTTPS on the gateway: off, with certificates from an ACME server, or with the user's own. */
export type TlsConfig =
  | { readonly mode: 'off' }
  | {
      readonly mode: 'acme';
      readonly listen: ListenAddress;
      readonly directoryUrl: string;
      readonly email: string;
      /** A CA to trust for the ACME server besides the system's (a private ACME server). */
      readonly caFile: string | null;
    }
  | { readonly mode: 'files'; readonly listen: ListenAddress; readonly certFile: string; readonly keyFile: string };

export const SERVER_DEFAULTS = {
  dataDir: './.berth',
  apiListen: '127.0.0.1:7070',
  gatewayListen: '0.0.0.0:8080',
  registryListen: '127.0.0.1:5000',
  healthTimeout: '60',
  drain: '2',
  stopGrace: '10',
  networkPool: '10.208.0.0/12',
  tls: 'off',
  gatewayTlsListen: '0.0.0.0:8443',
  dockerHost: 'unix:///var/run/docker.sock',
  orchestrator: 'auto',
} as const;

/** The public URL when none is given: the gateway's address, with a wildcard host made reachable. */
export function defaultPublicUrl(gateway: ListenAddress): string {
  return connectUrl(gateway);
}

export function parsePublicUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ConfigError(`--public-url must be an absolute http(s) URL, not '${text}'`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError(`--public-url must use http or https, not '${url.protocol}'`);
  }
  return text.replace(/\/+$/, '');
}

export function parsePositive(text: string, flag: string, max: number): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0 || value > max) {
    throw new ConfigError(`--${flag} must be a number greater than 0 and at most ${max}, not '${text}'`);
  }
  return value;
}

export interface RawServerOptions {
  dataDir?: string;
  apiListen?: string;
  gatewayListen?: string;
  gatewayAdminPort?: string;
  gatewayUser?: string;
  networkPool?: string;
  registryListen?: string;
  publicUrl?: string;
  memoryCapacity?: string;
  healthTimeout?: string;
  drain?: string;
  stopGrace?: string;
  tls?: string;
  gatewayTlsListen?: string;
  acmeDirectory?: string;
  acmeEmail?: string;
  acmeCaFile?: string;
  tlsCert?: string;
  tlsKey?: string;
  publicDomain?: string;
  dockerHost?: string;
  orchestrator?: string;
  hostPorts?: string;
  allowBindMount?: readonly string[];
  metricsListen?: string;
}

/** Flags win over `BERTH_<FLAG>` environment variables, which win over defaults. */
export function resolveServerConfig(flags: RawServerOptions, env: NodeJS.ProcessEnv): ServerConfig {
  const pick = (flag: Exclude<keyof RawServerOptions, 'allowBindMount'>, envName: string, fallback?: string): string | undefined =>
    flags[flag] ?? env[envName] ?? fallback;
  const gatewayListen = parseListen(pick('gatewayListen', 'BERTH_GATEWAY_LISTEN', SERVER_DEFAULTS.gatewayListen) as string, 'gateway-listen');
  const givenPublicUrl = pick('publicUrl', 'BERTH_PUBLIC_URL');
  const capacity = pick('memoryCapacity', 'BERTH_MEMORY_CAPACITY');
  const tls = tlsConfig(pick);
  const publicUrl = givenPublicUrl ? parsePublicUrl(givenPublicUrl) : tls.mode === 'off' ? defaultPublicUrl(gatewayListen) : `https://${connectAddress(tls.listen)}`;
  checkPublicUrlForTls(publicUrl, tls);
  const domain = pick('publicDomain', 'BERTH_PUBLIC_DOMAIN')?.toLowerCase().replace(/\.$/, '');
  if (domain !== undefined && !isHostName(domain)) throw new ConfigError(`--public-domain must be a DNS name such as apps.example.org, not '${domain}'`);
  return {
    dataDir: pick('dataDir', 'BERTH_DATA_DIR', SERVER_DEFAULTS.dataDir) as string,
    apiListen: parseListen(pick('apiListen', 'BERTH_API_LISTEN', SERVER_DEFAULTS.apiListen) as string, 'api-listen'),
    gatewayListen,
    gatewayAdminPort: adminPort(pick('gatewayAdminPort', 'BERTH_GATEWAY_ADMIN_PORT'), gatewayListen),
    gatewayUser: pick('gatewayUser', 'BERTH_GATEWAY_USER') ?? null,
    networkPool: formatCidr(parsePool(pick('networkPool', 'BERTH_NETWORK_POOL', SERVER_DEFAULTS.networkPool) as string, 'network-pool')),
    registryListen: parseListen(pick('registryListen', 'BERTH_REGISTRY_LISTEN', SERVER_DEFAULTS.registryListen) as string, 'registry-listen'),
    publicUrl,
    adminToken: env.BERTH_ADMIN_TOKEN && env.BERTH_ADMIN_TOKEN.length > 0 ? env.BERTH_ADMIN_TOKEN : null,
    memoryCapacityMiB: capacity === undefined ? null : Math.floor(parsePositive(capacity, 'memory-capacity', 1024 * 1024 * 1024)),
    healthTimeoutSeconds: parsePositive(pick('healthTimeout', 'BERTH_HEALTH_TIMEOUT', SERVER_DEFAULTS.healthTimeout) as string, 'health-timeout', 3600),
    drainSeconds: parsePositive(pick('drain', 'BERTH_DRAIN', SERVER_DEFAULTS.drain) as string, 'drain', 600),
    stopGraceSeconds: parsePositive(pick('stopGrace', 'BERTH_STOP_GRACE', SERVER_DEFAULTS.stopGrace) as string, 'stop-grace', 600),
    tls,
    publicDomain: domain ?? null,
    hostPorts: hostPortRange(pick('hostPorts', 'BERTH_HOST_PORTS')),
    allowBindMounts: bindMountDirs(flags.allowBindMount ?? env.BERTH_ALLOW_BIND_MOUNT?.split(':').filter(Boolean) ?? []),
    dockerSocket: dockerSocket(pick('dockerHost', 'BERTH_DOCKER_HOST', SERVER_DEFAULTS.dockerHost) as string),
    orchestrator: orchestrator(pick('orchestrator', 'BERTH_ORCHESTRATOR', SERVER_DEFAULTS.orchestrator) as string),
    metricsListen: metricsListen(pick('metricsListen', 'BERTH_METRICS_LISTEN', 'off') as string),
  };
}

/** A bare port is on the loopback: metrics without a token are for the machine's own Prometheus. */
function metricsListen(text: string): ListenAddress | null {
  if (text === 'off') return null;
  return parseListen(/^\d+$/.test(text) ? `127.0.0.1:${text}` : text, 'metrics-listen');
}

function hostPortRange(text: string | undefined): ServerConfig['hostPorts'] {
  if (text === undefined || text === '') return null;
  const match = /^(\d{1,5})-(\d{1,5})$/.exec(text);
  const [min, max] = match ? [Number(match[1]), Number(match[2])] : [NaN, NaN];
  if (!(min >= 1 && max <= 65535 && min <= max)) throw new ConfigError(`--host-ports must be a range MIN-MAX of ports from 1 to 65535, such as 12000-12999, not '${text}'`);
  return { min, max };
}

function bindMountDirs(dirs: readonly string[]): string[] {
  for (const dir of dirs) {
    if (!dir.startsWith('/')) throw new ConfigError(`--allow-bind-mount takes an absolute directory, not '${dir}'`);
    if (dir === '/') throw new ConfigError('--allow-bind-mount / would let every stack mount the whole host; name a directory');
  }
  return dirs.map((d) => d.replace(/\/+$/, ''));
}

/** `unix:///path` or a plain absolute path; the engine's TCP endpoints need TLS that berth does not set up. */
function dockerSocket(text: string): string {
  const path = text.startsWith('unix://') ? text.slice('unix://'.length) : text;
  if (!path.startsWith('/')) throw new ConfigError(`--docker-host must be a unix socket, unix:///var/run/docker.sock or an absolute path, not '${text}'`);
  return path;
}

function orchestrator(text: string): ServerConfig['orchestrator'] {
  if (text !== 'auto' && text !== 'swarm' && text !== 'engine') throw new ConfigError(`--orchestrator must be auto, swarm or engine, not '${text}'`);
  return text;
}

type PickOption = (flag: Exclude<keyof RawServerOptions, 'allowBindMount'>, envName: string, fallback?: string) => string | undefined;

function tlsConfig(pick: PickOption): TlsConfig {
  const mode = pick('tls', 'BERTH_TLS', SERVER_DEFAULTS.tls);
  if (mode !== 'off' && mode !== 'acme' && mode !== 'files') throw new ConfigError(`--tls must be off, acme or files, not '${mode}'`);
  const given = (flag: Exclude<keyof RawServerOptions, 'allowBindMount'>, envName: string): string | undefined => pick(flag, envName) || undefined;
  const acme = { directory: given('acmeDirectory', 'BERTH_ACME_DIRECTORY'), email: given('acmeEmail', 'BERTH_ACME_EMAIL'), ca: given('acmeCaFile', 'BERTH_ACME_CA_FILE') };
  const files = { cert: given('tlsCert', 'BERTH_TLS_CERT'), key: given('tlsKey', 'BERTH_TLS_KEY') };
  if (mode !== 'acme' && (acme.directory || acme.email || acme.ca)) throw new ConfigError('--acme-directory, --acme-email and --acme-ca-file go with --tls acme');
  if (mode !== 'files' && (files.cert || files.key)) throw new ConfigError('--tls-cert and --tls-key go with --tls files');
  if (mode === 'off') {
    if (pick('gatewayTlsListen', 'BERTH_GATEWAY_TLS_LISTEN')) throw new ConfigError('--gateway-tls-listen goes with --tls acme or --tls files');
    return { mode };
  }
  const listen = parseListen(pick('gatewayTlsListen', 'BERTH_GATEWAY_TLS_LISTEN', SERVER_DEFAULTS.gatewayTlsListen) as string, 'gateway-tls-listen');
  if (mode === 'files') {
    if (!files.cert || !files.key) throw new ConfigError('--tls files needs --tls-cert FILE and --tls-key FILE');
    return { mode, listen, certFile: files.cert, keyFile: files.key };
  }
  if (!acme.directory || !acme.email) throw new ConfigError('--tls acme needs --acme-directory URL and --acme-email ADDRESS');
  let directory: URL;
  try {
    directory = new URL(acme.directory);
  } catch {
    throw new ConfigError(`--acme-directory must be the https URL of an ACME directory, not '${acme.directory}'`);
  }
  if (directory.protocol !== 'https:') throw new ConfigError(`--acme-directory must be an https URL (RFC 8555), not '${acme.directory}'`);
  if (!/^[^\s@]+@[^\s@]+$/.test(acme.email)) throw new ConfigError(`--acme-email must be an e-mail address, not '${acme.email}'`);
  return { mode, listen, directoryUrl: acme.directory, email: acme.email, caFile: acme.ca ?? null };
}

/** With TLS, links point at HTTPS; certificates from ACME are for a DNS name. */
function checkPublicUrlForTls(publicUrl: string, tls: TlsConfig): void {
  if (tls.mode === 'off') return;
  const url = new URL(publicUrl);
  if (url.protocol !== 'https:') throw new ConfigError(`with --tls ${tls.mode} the gateway serves HTTPS: --public-url must be an https URL, not '${publicUrl}'`);
  if (tls.mode === 'acme' && !isHostName(url.hostname)) {
    throw new ConfigError(`--tls acme gets a certificate for the host of --public-url, which must be a DNS name, not '${url.hostname}'`);
  }
}

/** The port of the public HTTPS URL, which plain HTTP redirects to. */
export function httpsPort(publicUrl: string): number {
  const url = new URL(publicUrl);
  return url.protocol === 'https:' && url.port !== '' ? Number(url.port) : 443;
}

function adminPort(text: string | undefined, gateway: ListenAddress): number {
  if (text === undefined) return gateway.port === 65535 ? 65534 : gateway.port + 1;
  const port = Number(text);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new ConfigError(`--gateway-admin-port must be a port from 1 to 65535, not '${text}'`);
  }
  return port;
}

