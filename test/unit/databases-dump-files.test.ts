import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DumpFiles } from '../../src/databases/dump-files.js';

const dirs: string[] = [];

function root(): string {
  const dir = mkdtempSync(join(tmpdir(), 'berth-dumpfiles-'));
  dirs.push(dir);
  return dir;
}

/** A file as an earlier run left it: written an hour ago. */
function leftover(dir: string, name: string): void {
  const path = join(dir, name);
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, 'old');
  const anHourAgo = new Date(Date.now() - 3_600_000);
  utimesSync(path, anHourAgo, anHourAgo);
}

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('dump files', () => {
  it('lists a file only once it is whole, with its size and SHA-256', async () => {
    const dir = root();
    const files = new DumpFiles(dir);
    const writer = await files.create('p/db/db-1.dump');
    writer.stream.end(Buffer.from('PGDMP data'));
    expect(readdirSync(join(dir, 'p/db'))).toEqual([expect.stringMatching(/^db-1\.dump\.[0-9a-f]{8}\.part$/)]);
    const taken = await writer.commit();
    expect(taken).toEqual({ file: 'p/db/db-1.dump', size: 10, sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(readdirSync(join(dir, 'p/db'))).toEqual(['db-1.dump']);
    expect(await files.check(taken.file, taken.size, taken.sha256)).toBeNull();
    writeFileSync(join(dir, taken.file), 'PGDMP dat4');
    expect(await files.check(taken.file, taken.size, taken.sha256)).toMatch(/altered or damaged/);
  });

  it('removes what an earlier run left, but not the files it keeps nor ones this run is writing', async () => {
    const dir = root();
    leftover(dir, 'p/db/db-1.dump');
    leftover(dir, 'p/db/db-2.dump.0a1b2c3d.part');
    leftover(dir, 'p/db/db-3.dump');
    const files = new DumpFiles(dir);
    // An upload under way before the first pass cleans up.
    const writer = await files.create('p/db/upload-4.dump');
    writer.stream.write(Buffer.from('PGDMP'));
    const removed = await files.removeLeftovers(new Set(['p/db/db-1.dump']));
    expect(removed.sort()).toEqual(['p/db/db-2.dump.0a1b2c3d.part', 'p/db/db-3.dump']);
    writer.stream.end();
    const taken = await writer.commit();
    expect(readdirSync(join(dir, 'p/db')).sort()).toEqual(['db-1.dump', 'upload-4.dump']);
    expect(readFileSync(join(dir, taken.file), 'utf8')).toBe('PGDMP');
  });

  it('leaves nothing of an aborted file', async () => {
    const dir = root();
    const writer = await new DumpFiles(dir).create('p/db/db-5.dump');
    writer.stream.write(Buffer.from('PGD'));
    await writer.abort();
    expect(readdirSync(join(dir, 'p/db'))).toEqual([]);
  });
});
