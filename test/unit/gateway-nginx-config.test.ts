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
      /upstream berth_targets \{[^}]*berth_routes "\/var\/lib\/berth\/gateway\/routes\/current"\s+"not_found=unix:\/var\/lib\/berth\/gateway\/run\/not-found.sock"\s+"unavailable=unix:\/var\/lib\/berth\/gateway\/run\/unavailable.sock";[^}]*keepalive 64;/,
    );
  });

  it('proxies streamed, with the path unchanged, forwarding headers and websocket upgrades', () => {
    expect(text).toContain('proxy_pass http://berth_targets;');
    for (const directive of [
      'proxy_http_version 1.1;',
      'proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;',
      'proxy_set_header X-Forwarded-Proto $scheme;',
      'proxy_set_header X-Forwarded-Host $berth_host;',
      'proxy_set_header Upgrade $http_upgrade;',
      'proxy_set_header Connection $berth_connection;',
      'proxy_request_buffering off;',
      'proxy_buffering off;',
      'proxy_next_upstream error timeout;',
    ]) {
      expect(text).toContain(directive);
    }
  });

  it('drops worker privileges only to the user it is told', () => {
    expect(text).not.toMatch(/^user /m);
    expect(renderNginxConfig(input({ workerUser: 'root' })).text).toMatch(/^user root;$/m);
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
      { workerUser: 'root; evil' },
    ];
    for (const overrides of bad) {
      expect(() => renderNginxConfig(input(overrides)), JSON.stringify(overrides)).toThrow(ConfigError);
    }
  });
});
