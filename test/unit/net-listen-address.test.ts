import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/domain/errors.js';
import { connectAddress, connectUrl, formatListen, parseListen } from '../../src/net/listen-address.js';

describe('listen addresses', () => {
  it('reads HOST:PORT, [IPv6]:PORT and :PORT (all interfaces)', () => {
    expect(parseListen('127.0.0.1:5000', 'registry-listen')).toEqual({ host: '127.0.0.1', port: 5000 });
    expect(parseListen('[::1]:7070', 'listen')).toEqual({ host: '::1', port: 7070 });
    expect(parseListen(':8080', 'gateway-listen')).toEqual({ host: '0.0.0.0', port: 8080 });
    expect(formatListen({ host: '::1', port: 7070 })).toBe('[::1]:7070');
  });

  it.each(['5000', 'host:', 'host:0', 'host:70000', 'host:x'])('refuses %j and names the flag', (text) => {
    expect(() => parseListen(text, 'registry-listen')).toThrow(ConfigError);
    expect(() => parseListen(text, 'registry-listen')).toThrow(/--registry-listen must be HOST:PORT/);
  });

  it('reaches wildcard hosts through the loopback', () => {
    expect(connectAddress(parseListen('0.0.0.0:5000', 'x'))).toBe('127.0.0.1:5000');
    expect(connectAddress(parseListen(':5000', 'x'))).toBe('127.0.0.1:5000');
    expect(connectAddress(parseListen('[::]:5000', 'x'))).toBe('127.0.0.1:5000');
    expect(connectAddress(parseListen('10.0.0.5:5000', 'x'))).toBe('10.0.0.5:5000');
    expect(connectUrl(parseListen('[::1]:7070', 'x'))).toBe('http://[::1]:7070');
  });
});
