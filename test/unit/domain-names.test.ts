import { describe, expect, it } from 'vitest';
import { InvalidProjectNameError, InvalidServiceNameError } from '../../src/domain/errors.js';
import { assertProjectName, assertServiceName, contextRoot } from '../../src/domain/names.js';

describe('service names', () => {
  it.each(['web', 'a', 'hpc-preprocessor', 'a1', 'x-1-y'])('accepts %s', (name) => {
    expect(() => assertServiceName('exp', name)).not.toThrow();
  });

  it.each(['Web', '1web', '-web', 'web-', 'w_b', 'wé', 'a b', '', 'web/../x', 'web\n'])('refuses %j with a 405 error', (name) => {
    expect(() => assertServiceName('exp', name)).toThrow(InvalidServiceNameError);
  });

  it('counts the project prefix in the 32-character limit', () => {
    expect(() => assertServiceName('experiment_2', 'a'.repeat(19))).not.toThrow(); // 12 + 1 + 19 = 32
    expect(() => assertServiceName('experiment_2', 'a'.repeat(20))).toThrow(/33 characters/);
  });

  it('refuses non-strings', () => {
    for (const name of [42, null, undefined, {}, ['web']]) {
      expect(() => assertServiceName('exp', name)).toThrow(InvalidServiceNameError);
    }
  });

  it('derives the context root', () => {
    expect(contextRoot('experiment_2', 'hpc-preprocessor')).toBe('/experiment_2-hpc-preprocessor');
  });
});

describe('project names', () => {
  it.each(['exp', 'experiment_2', 'exp-2', 'a__b', 'team--x'])('accepts %s', (name) => {
    expect(() => assertProjectName(name)).not.toThrow();
  });

  it.each(['Exp', '2exp', 'exp_', 'exp-', 'a___b', 'a_-b', '', 'x'.repeat(31)])('refuses %j', (name) => {
    expect(() => assertProjectName(name)).toThrow(InvalidProjectNameError);
  });
});
