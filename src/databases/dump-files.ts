import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { syncDirectory } from '../fs/atomic-file.js';
import type { DumpSource } from '../reconciler/database-driver.js';
import type { DumpStorage, DumpWriter } from '../reconciler/dump-storage.js';

const PART = '.part';

/**
 * Dumps as files under one directory (mode 0700, files 0600): written to `<name>.part`, hashed on
 * the way, fsynced, renamed into place and the directory fsynced, so a crash leaves the file
 * complete under its name or only a `.part` that the next start removes.
 */
export class DumpFiles implements DumpStorage {
  /** Files last written before this are an earlier run's. */
  private readonly openedAt = Date.now();

  constructor(private readonly root: string) {}

  async create(name: string): Promise<DumpWriter> {
    const path = join(this.root, name);
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    const part = `${path}.${randomBytes(4).toString('hex')}${PART}`;
    const handle = await open(part, 'wx', 0o600);
    const hash = createHash('sha256');
    let size = 0;
    let settle: (error: Error | null) => void = () => {};
    const written = new Promise<void>((resolve, reject) => {
      settle = (error) => (error ? reject(error) : resolve());
    });
    const stream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        hash.update(chunk);
        size += chunk.length;
        handle.write(chunk).then(
          () => done(),
          (error: Error) => done(error),
        );
      },
      final(done) {
        settle(null);
        done();
      },
      destroy(error, done) {
        settle(error ?? new Error('the dump was not written to its end'));
        done(error);
      },
    });
    // Whoever writes learns of a failure through the stream; commit reports it again, abort needs it not.
    written.catch(() => undefined);
    return {
      stream,
      commit: async () => {
        try {
          await written;
          await handle.sync();
        } finally {
          await handle.close();
        }
        await rename(part, path);
        await syncDirectory(dirname(path));
        return { file: relative(this.root, path), size, sha256: hash.digest('hex') };
      },
      abort: async () => {
        stream.destroy();
        // Closing a handle that a failed write already closed is no news.
        await handle.close().catch(() => undefined);
        await rm(part, { force: true });
      },
    };
  }

  source(file: string, size: number): DumpSource {
    const path = join(this.root, file);
    return { size, open: (): Readable => createReadStream(path) };
  }

  async check(file: string, size: number, sha256: string): Promise<string | null> {
    const path = join(this.root, file);
    let info;
    try {
      info = await stat(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return `its file ${file} is gone`;
      throw error;
    }
    if (info.size !== size) return `its file is ${info.size} bytes, not the ${size} written`;
    const hash = createHash('sha256');
    await pipeline(createReadStream(path), hash);
    const actual = hash.digest('hex');
    return actual === sha256 ? null : `its file's SHA-256 is ${actual.slice(0, 12)}…, not the ${sha256.slice(0, 12)}… written: the file was altered or damaged`;
  }

  async remove(file: string): Promise<void> {
    await rm(join(this.root, file), { force: true });
  }

  async removeLeftovers(keep: ReadonlySet<string>): Promise<string[]> {
    const removed: string[] = [];
    const walk = async (dir: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw error;
      }
      for (const entry of entries) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) await walk(path);
        else if (!keep.has(relative(this.root, path)) && (await writtenBefore(path, this.openedAt))) {
          await rm(path, { force: true });
          removed.push(relative(this.root, path));
        }
      }
    };
    await walk(this.root);
    return removed;
  }
}

/** false for a file gone meanwhile: a write of this run renamed or removed it. */
async function writtenBefore(path: string, time: number): Promise<boolean> {
  try {
    return (await stat(path)).mtimeMs < time;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}
