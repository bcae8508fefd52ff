import { randomBytes } from 'node:crypto';
import { open, readFile, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * Writes through a temp file in the same directory and renames it into place,
 * so a crash leaves either the old content or the new, never half a file.
 */
export async function writeFileAtomic(file: string, data: string | Buffer, mode = 0o600): Promise<void> {
  const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    const handle = await open(tmp, 'wx', mode);
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, file);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
  await syncDirectory(dirname(file));
}

/** Like writeFileAtomic, but leaves the file alone when it already holds `data`; true when it wrote. */
export async function writeFileAtomicIfChanged(file: string, data: string, mode = 0o600): Promise<boolean> {
  const current = await readFileIfExists(file);
  if (current === data) return false;
  await writeFileAtomic(file, data, mode);
  return true;
}

export async function readFileIfExists(file: string): Promise<string | null> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

/** The rename is only durable once the directory entry is on disk too. */
export async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
