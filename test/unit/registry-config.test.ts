import { describe, expect, it } from 'vitest';
import { InvalidRepositoryNameError } from '../../src/registry/errors.js';
import { renderRegistryConfig } from '../../src/registry/registry-config.js';
import { repositoryName, repositoryNameOrNull } from '../../src/registry/repository-name.js';

describe('renderRegistryConfig', () => {
  const config = renderRegistryConfig({
    listen: '127.0.0.1:5000',
    storageDir: '/data/my registry/storage',
    realm: 'http://127.0.0.1:7070/registry/token',
    service: 'berth-registry',
    issuer: 'berth',
    rootCertBundle: '/data/registry/token-signing/cert.pem',
  });

  it('points token auth at berth and quotes every string', () => {
    expect(config).toContain(
      [
        'auth:',
        '  token:',
        '    realm: "http://127.0.0.1:7070/registry/token"',
        '    service: "berth-registry"',
        '    issuer: "berth"',
        '    rootcertbundle: "/data/registry/token-signing/cert.pem"',
      ].join('\n'),
    );
    expect(config).toContain('    rootdirectory: "/data/my registry/storage"');
    expect(config).toContain('  addr: "127.0.0.1:5000"');
  });

  it('enables deletes, disables redirects and has no blob descriptor cache', () => {
    expect(config).toContain('  delete:\n    enabled: true');
    expect(config).toContain('  redirect:\n    disable: true');
    expect(config).not.toContain('blobdescriptor');
  });
});

describe('repositoryName', () => {
  it('joins project and service', () => {
    expect(repositoryName('exp_2', 'web-1')).toBe('exp_2/web-1');
    expect(repositoryName('exp--2', 'a')).toBe('exp--2/a');
  });

  it.each(['exp-', 'exp_', 'exp-_2', 'exp_-2', 'exp___2'])('rejects project %j, which Distribution would', (project) => {
    expect(() => repositoryName(project, 'web')).toThrow(InvalidRepositoryNameError);
    expect(repositoryNameOrNull(project, 'web')).toBeNull();
  });
});
