import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '../..');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sources(path) : path.endsWith('.ts') ? [path] : [];
  });
}

describe('the error catalogue', () => {
  it('documents every error code the code can raise', () => {
    const codes = new Set<string>();
    for (const file of sources(join(root, 'src'))) {
      for (const match of readFileSync(file, 'utf8').matchAll(/['"](BERTH_[A-Z_]+)['"]/g)) codes.add(match[1] as string);
    }
    const docs = readFileSync(join(root, 'docs/errors.md'), 'utf8');
    const missing = [...codes].filter((code) => !docs.includes(`\`${code}\``));
    expect(codes.size).toBeGreaterThan(20);
    expect(missing).toEqual([]);
  });
});
