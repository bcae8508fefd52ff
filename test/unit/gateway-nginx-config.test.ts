import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/domain/errors.js';
import { nginxPaths, renderNginxConfig, type NginxConfigInput } from '../../src/gateway/nginx-config.js';

function input(overrides: Partial<NginxConfigInput> = {}): NginxConfigInput {
  return {
    listenHost: '0.0.0.0',
    listenPort: 8080,
    adminPort: 7071,
    paths: nginxPaths('/var/lib/berth/gateway'),
    moduleFile: '/opt/berth/build/nginx/ngx_http_berth_routes_module.so',
    routeMetrics: true,
    ...overrides,
  };
}

describe('renderNginxConfig', () => {
  const { text, id } = renderNginxConfig(input());

  it('listens publicly on the gateway address and privately on the admin port', () => {
    expect(text).toContain('listen 0.0.0.0:8080;');
    expect(text).toContain('listen 127.0.0.1:7071;');
    expect(renderNginxConfig(input({ listenHost: '::' })).text).toContain('listen [::]:8080;');
  });

  it('keeps the workers’ files apart from the master’s when told to', () => {
    const split = renderNginxConfig(input({ paths: nginxPaths('/var/lib/berth/gateway', '/run/berth/gateway-1') })).text;
    expect(split).toContain('pid "/var/lib/berth/gateway/nginx.pid";');
    expect(split).toContain('berth_routes "/run/berth/gateway-1/routes/current"');
    expect(split).toContain('"bad_request=unix:/run/berth/gateway-1/run/bad-request.sock";');
    expect(split).toContain('listen "unix:/run/berth/gateway-1/run/bad-request.sock";');
    expect(split).toContain('client_body_temp_path "/run/berth/gateway-1/tmp/client_body";');
  });

  it('keeps every file under the data dir', () => {
    expect(text).toContain('pid "/var/lib/berth/gateway/nginx.pid";');
    expect(text).toContain('error_log "/var/lib/berth/gateway/logs/error.log" warn;');
    expect(text).toContain('proxy_temp_path "/var/lib/berth/gateway/tmp/proxy";');
    expect(text).toContain('listen "unix:/var/lib/berth/gateway/run/not-found.sock";');
    expect(text).toContain('load_module "/opt/berth/build/nginx/ngx_http_berth_routes_module.so";');
  });

  it('picks peers with berth_routes from the table link, keeping connections alive per peer', () => {
    expect(text).not.toMatch(/_by_lua/);
    expect(text).toMatch(
      /upstream berth_targets \{[^}]*berth_routes "\/var\/lib\/berth\/gateway\/routes\/current"\s+"not_found=unix:\/var\/lib\/berth\/gateway\/run\/not-found.sock"\s+"unavailable=unix:\/var\/lib\/berth\/gateway\/run\/unavailable.sock"\s+"bad_request=unix:\/var\/lib\/berth\/gateway\/run\/bad-request.sock";[^}]*keepalive 64;/,
    );
  });

  it('proxies streamed, with the path unchanged, forwarding headers and websocket upgrades', () => {
    expect(text).toContain('proxy_pass http://berth_targets;');
    for (const directive of [
      'proxy_http_version 1.1;',
      'proxy_set_header X-Forwarded-Proto $scheme;',
      'proxy_set_header X-Forwarded-Host $berth_host;',
      'proxy_set_header Upgrade $http_upgrade;',
      'proxy_set_header Connection $berth_connection;',
      'proxy_request_buffering off;',
      'proxy_buffering off;',
      'proxy_next_upstream error timeout;',
      // The edge sets the client address; what a client claims about earlier hops is dropped.
      'proxy_set_header X-Forwarded-For $remote_addr;',
      'proxy_set_header Forwarded "";',
    ]) {
      expect(text).toContain(directive);
    }
  });

  it('drops worker privileges only to the user it is told', () => {
    expect(text).not.toMatch(/^user /m);
    expect(renderNginxConfig(input({ worker: { user: 'www-data', group: 'www-data' } })).text).toMatch(/^user www-data www-data;$/m);
  });

  it('is pure, and its id follows its content', () => {
    expect(renderNginxConfig(input())).toEqual({ text, id });
    expect(id).toMatch(/^[0-9a-f]{16}$/);
    expect(text).toContain(`return 200 "${id}";`);
    expect(renderNginxConfig(input({ listenPort: 8081 })).id).not.toBe(id);
  });

  it('refuses input that would break the file', () => {
    const bad: Partial<NginxConfigInput>[] = [
      { listenHost: '' },
      { listenHost: '0.0.0.0; evil' },
      { listenPort: 0 },
      { adminPort: 70000 },
      { adminPort: 8080 },
      { moduleFile: '/opt/my "module".so' },
      { paths: nginxPaths(`/${'d'.repeat(100)}`) },
      { worker: { user: 'www-data; evil', group: 'www-data' } },
      { worker: { user: 'www-data', group: 'x y' } },
    ];
    for (const overrides of bad) {
      expect(() => renderNginxConfig(input(overrides)), JSON.stringify(overrides)).toThrow(ConfigError);
    }
  });
});

describe('renderNginxConfig with TLS and host routing', () => {
  const tls = { listenHost: '0.0.0.0', listenPort: 8443, redirectPort: 443, acmeChallenges: true };

  it('routes <name>.<domain> by its name, leaving path routing as it is', () => {
    const text = renderNginxConfig(input({ publicDomain: 'apps.example.org' })).text;
    expect(text).toContain('"host_suffix=.apps.example.org";');
    expect(renderNginxConfig(input()).text).not.toContain('host_suffix');
  });

  it('serves HTTPS with the certificate berth links for each handshake, proxying as plain HTTP does', () => {
    const text = renderNginxConfig(input({ tls })).text;
    expect(text).toContain('berth_certificates "/var/lib/berth/gateway/certs";');
    expect(text).toContain('listen 0.0.0.0:8443 ssl;');
    expect(text).toContain('ssl_certificate $berth_certificate;');
    expect(text).toContain('ssl_certificate_key $berth_certificate;');
    expect(text.match(/proxy_pass http:\/\/berth_targets;/g)).toHaveLength(1);
    expect(text).toContain('proxy_set_header Upgrade $http_upgrade;');
  });

  it('redirects plain HTTP to HTTPS, except the ACME challenges, which nginx answers from files', () => {
    const text = renderNginxConfig(input({ tls })).text;
    expect(text).toContain('return 308 https://$host$request_uri;');
    expect(text).toContain('location ^~ /.well-known/acme-challenge/ {\n      alias "/var/lib/berth/gateway/acme-challenge/";');
    const files = renderNginxConfig(input({ tls: { ...tls, redirectPort: 8443, acmeChallenges: false } })).text;
    expect(files).toContain('return 308 https://$host:8443$request_uri;');
    expect(files).not.toContain('acme-challenge');
  });

  it('refuses a TLS address that another listener takes, or a domain that is no DNS name', () => {
    expect(() => renderNginxConfig(input({ tls: { ...tls, listenPort: 8080 } }))).toThrow(ConfigError);
    expect(() => renderNginxConfig(input({ tls: { ...tls, listenPort: 7071 } }))).toThrow(ConfigError);
    expect(() => renderNginxConfig(input({ publicDomain: 'apps example' }))).toThrow(ConfigError);
  });
});
