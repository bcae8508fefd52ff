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
    // Environment variables share the prefix; they are documented in docs/server.md.
    const envNames = new Set(readFileSync(join(root, 'src/server/config.ts'), 'utf8').match(/BERTH_[A-Z_]+/g));
    for (const file of sources(join(root, 'src'))) {
      for (const match of readFileSync(file, 'utf8').matchAll(/['"](BERTH_[A-Z_]+)['"]/g)) codes.add(match[1] as string);
    }
    const docs = readFileSync(join(root, 'docs/errors.md'), 'utf8');
    const missing = [...codes].filter((code) => !envNames.has(code) && !docs.includes(`\`${code}\``));
    expect(codes.size).toBeGreaterThan(20);
    expect(missing).toEqual([]);
  });
});
