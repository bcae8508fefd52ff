import { describe, expect, it } from 'vitest';
import { engineNameOf, ownedRepository, parseImageReference, type OwnRegistry } from '../../src/domain/image-reference.js';
import { LocalRegistryNames } from '../../src/registry/own-registry.js';

const DIGEST = `sha256:${'ab'.repeat(32)}`;

describe('image references', () => {
  it('takes a reference apart as the engine reads it', () => {
    expect(parseImageReference('redis:alpine')).toEqual({ domain: null, path: 'redis', tag: 'alpine', digest: null });
    expect(parseImageReference('127.0.0.1:5000/alpha/web:v1')).toEqual({ domain: '127.0.0.1:5000', path: 'alpha/web', tag: 'v1', digest: null });
    expect(parseImageReference(`[::1]:5000/alpha/web@${DIGEST}`)).toEqual({ domain: '[::1]:5000', path: 'alpha/web', tag: null, digest: DIGEST });
    // Without a dot, a colon or "localhost" the first component is a path, as for the engine.
    expect(parseImageReference('team/app')).toEqual({ domain: null, path: 'team/app', tag: null, digest: null });
  });

  it('refuses image ids, which the engine would resolve to any image with that id', () => {
    expect(() => parseImageReference(`sha256:${'c'.repeat(64)}`)).toThrow(/not by image id/);
    expect(() => parseImageReference('c'.repeat(64))).toThrow(/not by image id/);
    expect(() => parseImageReference('UPPER/case')).toThrow(/must be an image reference/);
  });

  it('names an image as the engine lists it', () => {
    expect(engineNameOf(parseImageReference('redis'))).toBe('redis:latest');
    expect(engineNameOf(parseImageReference('docker.io/library/redis:7'))).toBe('redis:7');
    expect(engineNameOf(parseImageReference('docker.io/team/app'))).toBe('team/app:latest');
    expect(engineNameOf(parseImageReference(`localhost:5000/a/b:1@${DIGEST}`))).toBe(`localhost:5000/a/b@${DIGEST}`);
  });
});

describe('images on berth’s registry', () => {
  const registry: OwnRegistry = { names: (domain) => domain === 'registry.example:5000' };

  it('runs only the project’s own repositories, by tag or digest', () => {
    expect(ownedRepository('alpha', parseImageReference('registry.example:5000/alpha/web:v1'), registry)).toBe('alpha/web');
    expect(() => ownedRepository('beta', parseImageReference('registry.example:5000/alpha/web:v1'), registry)).toThrow(
      expect.objectContaining({ code: 'BERTH_IMAGE_NOT_OWNED', status: 400 }),
    );
    expect(() => ownedRepository('beta', parseImageReference(`registry.example:5000/alpha/web@${DIGEST}`), registry)).toThrow(/another project/);
    // A project name that is a prefix of another's is not the same owner.
    expect(() => ownedRepository('alp', parseImageReference('registry.example:5000/alpha/web:v1'), registry)).toThrow(/another project/);
    expect(ownedRepository('beta', parseImageReference('elsewhere.example:5000/alpha/web:v1'), registry)).toBeNull();
    expect(ownedRepository('beta', parseImageReference('alpha/web:v1'), registry)).toBeNull();
  });

  it('knows the registry under every spelling of its address on this machine', () => {
    const names = new LocalRegistryNames('127.0.0.1:5000');
    for (const domain of ['127.0.0.1:5000', 'localhost:5000', 'LOCALHOST:5000', '127.0.0.2:5000', '[::1]:5000', '0.0.0.0:5000']) {
      expect(names.names(domain), domain).toBe(true);
    }
    for (const domain of ['127.0.0.1:5001', 'localhost', 'registry.example:5000', '10.255.255.254:5000']) {
      expect(names.names(domain), domain).toBe(false);
    }
    expect(new LocalRegistryNames('registry.example:5000').names('registry.example:5000')).toBe(true);
  });
});
