import { ConfigError } from '../domain/errors.js';

export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

/** "HOST:PORT", "[::1]:PORT" or ":PORT" (all interfaces). */
export function parseListen(text: string, flag: string): ListenAddress {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]*)):(\d{1,5})$/.exec(text.trim());
  const port = Number(match?.[3]);
  if (!match || port < 1 || port > 65535) {
    throw new ConfigError(`--${flag} must be HOST:PORT with a port from 1 to 65535, not '${text}'`);
  }
  return { host: match[1] ?? (match[2] || '0.0.0.0'), port };
}

export function formatListen(address: ListenAddress): string {
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

/**
 * The host:port a client on this machine connects to for a listen address: a
 * wildcard host is reached through the loopback, which the Docker engine also
 * treats as an insecure (plain HTTP) registry without any daemon configuration.
 */
export function connectAddress(address: ListenAddress): string {
  const host = address.host === '0.0.0.0' || address.host === '::' ? '127.0.0.1' : address.host;
  return formatListen({ host, port: address.port });
}

export function connectUrl(address: ListenAddress): string {
  return `http://${connectAddress(address)}`;
}
