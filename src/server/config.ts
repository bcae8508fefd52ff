import { ConfigError } from '../domain/errors.js';
import { connectUrl, parseListen, type ListenAddress } from '../net/listen-address.js';
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
}

export const SERVER_DEFAULTS = {
  dataDir: './.berth',
  apiListen: '127.0.0.1:7070',
  gatewayListen: '0.0.0.0:8080',
  registryListen: '127.0.0.1:5000',
  healthTimeout: '60',
  drain: '2',
  stopGrace: '10',
  networkPool: '10.208.0.0/12',
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
}

/** Flags win over `BERTH_<FLAG>` environment variables, which win over defaults. */
export function resolveServerConfig(flags: RawServerOptions, env: NodeJS.ProcessEnv): ServerConfig {
  const pick = (flag: keyof RawServerOptions, envName: string, fallback?: string): string | undefined =>
    flags[flag] ?? env[envName] ?? fallback;
  const gatewayListen = parseListen(pick('gatewayListen', 'BERTH_GATEWAY_LISTEN', SERVER_DEFAULTS.gatewayListen) as string, 'gateway-listen');
  const publicUrl = pick('publicUrl', 'BERTH_PUBLIC_URL');
  const capacity = pick('memoryCapacity', 'BERTH_MEMORY_CAPACITY');
  return {
    dataDir: pick('dataDir', 'BERTH_DATA_DIR', SERVER_DEFAULTS.dataDir) as string,
    apiListen: parseListen(pick('apiListen', 'BERTH_API_LISTEN', SERVER_DEFAULTS.apiListen) as string, 'api-listen'),
    gatewayListen,
    gatewayAdminPort: adminPort(pick('gatewayAdminPort', 'BERTH_GATEWAY_ADMIN_PORT'), gatewayListen),
    gatewayUser: pick('gatewayUser', 'BERTH_GATEWAY_USER') ?? null,
    networkPool: formatCidr(parsePool(pick('networkPool', 'BERTH_NETWORK_POOL', SERVER_DEFAULTS.networkPool) as string, 'network-pool')),
    registryListen: parseListen(pick('registryListen', 'BERTH_REGISTRY_LISTEN', SERVER_DEFAULTS.registryListen) as string, 'registry-listen'),
    publicUrl: publicUrl ? parsePublicUrl(publicUrl) : defaultPublicUrl(gatewayListen),
    adminToken: env.BERTH_ADMIN_TOKEN && env.BERTH_ADMIN_TOKEN.length > 0 ? env.BERTH_ADMIN_TOKEN : null,
    memoryCapacityMiB: capacity === undefined ? null : Math.floor(parsePositive(capacity, 'memory-capacity', 1024 * 1024 * 1024)),
    healthTimeoutSeconds: parsePositive(pick('healthTimeout', 'BERTH_HEALTH_TIMEOUT', SERVER_DEFAULTS.healthTimeout) as string, 'health-timeout', 3600),
    drainSeconds: parsePositive(pick('drain', 'BERTH_DRAIN', SERVER_DEFAULTS.drain) as string, 'drain', 600),
    stopGraceSeconds: parsePositive(pick('stopGrace', 'BERTH_STOP_GRACE', SERVER_DEFAULTS.stopGrace) as string, 'stop-grace', 600),
  };
}

function adminPort(text: string | undefined, gateway: ListenAddress): number {
  if (text === undefined) return gateway.port === 65535 ? 65534 : gateway.port + 1;
  const port = Number(text);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new ConfigError(`--gateway-admin-port must be a port from 1 to 65535, not '${text}'`);
  }
  return port;
}

