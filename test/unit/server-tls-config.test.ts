import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/domain/errors.js';
import { httpsPort, resolveServerConfig } from '../../src/server/config.js';
import { UserCertificate } from '../../src/tls/user-certificate.js';

describe('TLS flags', () => {
  const acme = { tls: 'acme', acmeDirectory: 'https://acme.example/dir', acmeEmail: 'ops@example.org', publicUrl: 'https://apps.example.org' };

  it('are off by default, and then everything stays plain HTTP', () => {
    const config = resolveServerConfig({}, {});
    expect(config.tls).toEqual({ mode: 'off' });
    expect(config.publicUrl).toBe('http://127.0.0.1:8080');
    expect(config.publicDomain).toBeNull();
  });

  it('read each flag from BERTH_<FLAG> too, a flag winning', () => {
    const config = resolveServerConfig(
      { acmeEmail: 'flag@example.org' },
      { BERTH_TLS: 'acme', BERTH_ACME_DIRECTORY: 'https://acme.example/dir', BERTH_ACME_EMAIL: 'env@example.org', BERTH_PUBLIC_URL: 'https://apps.example.org', BERTH_PUBLIC_DOMAIN: 'Apps.Example.org' },
    );
    expect(config.tls).toEqual({ mode: 'acme', listen: { host: '0.0.0.0', port: 8443 }, directoryUrl: 'https://acme.example/dir', email: 'flag@example.org', caFile: null });
    expect(config.publicDomain).toBe('apps.example.org');
  });

  it('default the public URL to HTTPS on the TLS address, and redirect to its port', () => {
    const config = resolveServerConfig({ tls: 'files', tlsCert: 'c.pem', tlsKey: 'k.pem', gatewayTlsListen: '0.0.0.0:9443' }, {});
    expect(config.publicUrl).toBe('https://127.0.0.1:9443');
    expect(httpsPort(config.publicUrl)).toBe(9443);
    expect(httpsPort('https://apps.example.org')).toBe(443);
  });

  it('refuse what cannot work, saying which flag', () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ ...acme, tls: 'yes' }, /--tls must be off, acme or files/],
      [{ tls: 'acme', publicUrl: 'https://apps.example.org' }, /needs --acme-directory/],
      [{ ...acme, acmeDirectory: 'http://acme.example/dir' }, /https URL/],
      [{ ...acme, acmeEmail: 'nobody' }, /--acme-email/],
      [{ ...acme, publicUrl: 'http://apps.example.org' }, /--public-url must be an https URL/],
      [{ ...acme, publicUrl: 'https://127.0.0.1:8443' }, /must be a DNS name/],
      [{ tls: 'files', tlsCert: 'c.pem' }, /--tls-cert FILE and --tls-key FILE/],
      [{ acmeEmail: 'ops@example.org' }, /go with --tls acme/],
      [{ tlsKey: 'k.pem' }, /go with --tls files/],
      [{ gatewayTlsListen: '0.0.0.0:8443' }, /goes with --tls acme or --tls files/],
      [{ publicDomain: 'not a domain' }, /--public-domain/],
    ];
    for (const [flags, message] of cases) {
      expect(() => resolveServerConfig(flags, {}), JSON.stringify(flags)).toThrow(ConfigError);
      expect(() => resolveServerConfig(flags, {}), JSON.stringify(flags)).toThrow(message);
    }
  });
});

describe('a certificate the user brings', () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-usercert-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const make = (name: string, days: string): { cert: string; key: string } => {
    const cert = join(dir, `${name}.crt`);
    const key = join(dir, `${name}.key`);
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', days, '-subj', `/CN=${name}`, '-addext', `subjectAltName=DNS:${name},DNS:*.${name}`], { stdio: 'ignore' });
    return { cert, key };
  };
  const good = make('apps.test', '30');
  const other = make('other.test', '30');

  it('is served when it matches its key and is valid now, covering the names it lists', async () => {
    const user = await UserCertificate.load(good.cert, good.key, Date.now());
    expect(user.list()[0]).toMatchObject({ host: 'apps.test', issuer: 'apps.test', names: ['apps.test', '*.apps.test'], renewAt: null });
    expect(['apps.test', 'p-web.apps.test', 'x.p-web.apps.test', 'other.test'].map((h) => user.covers(h))).toEqual([true, true, false, false]);
    await expect(user.renew()).rejects.toMatchObject({ code: 'BERTH_CERTIFICATES_NOT_MANAGED' });
  });

  it('is refused at start when the key is another certificate’s, it has expired, or a file holds no PEM', async () => {
    await expect(UserCertificate.load(good.cert, other.key, Date.now())).rejects.toThrow(/is not the private key of the certificate/);
    await expect(UserCertificate.load(good.cert, good.key, Date.now() + 31 * 24 * 3600_000)).rejects.toThrow(/expired on/);
    await expect(UserCertificate.load(good.key, good.key, Date.now())).rejects.toThrow(/holds no PEM certificate/);
    await expect(UserCertificate.load(good.cert, join(dir, 'missing.key'), Date.now())).rejects.toThrow(ConfigError);
    // One file holding both works as either.
    const both = join(dir, 'both.pem');
    execFileSync('sh', ['-c', `cat '${good.cert}' '${good.key}' > '${both}'`]);
    expect((await UserCertificate.load(both, both, Date.now())).list()[0]?.host).toBe('apps.test');
    expect(readFileSync(both, 'utf8')).toContain('PRIVATE KEY');
  });
});
