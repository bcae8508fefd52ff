import { ConfigError } from '../domain/errors.js';

const WILDCARD_HOSTS = new Set(['', '0.0.0.0', '::', '[::]']);

/**
 * The host:port to connect to for a HOST:PORT listen address: a wildcard
 * host is reached through the loopback, which the Docker engine also treats
 * as an insecure (plain HTTP) registry without any daemon configuration.
 */
export function connectAddress(listen: string): string {
  const colon = listen.lastIndexOf(':');
  const port = Number(listen.slice(colon + 1));
  if (colon < 0 || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new ConfigError(`Invalid registry listen address '${listen}': expected HOST:PORT`);
  }
  const host = listen.slice(0, colon);
  return `${WILDCARD_HOSTS.has(host) ? '127.0.0.1' : host}:${port}`;
}
