import { chmod, chown, readlink, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { errorCode } from '../process/proc-fs.js';

/**
 * Writes the files nginx's workers read (the route table, certificates, ACME challenge
 * answers). Each is written under a temp name and renamed into place, so a worker reads the
 * old file or the new one, whole, and a kill at any point leaves no half-written file under a
 * name a worker opens. When the workers run as another user, each file is readable by their
 * group (0640) and by nobody else. Not fsynced: berth writes them again whenever it starts.
 */
export class WorkerFiles {
  /** The group that may read the files (nginx's workers'), when they run as another user. */
  private readerGid: number | null = null;

  /** From now on each file is readable by the group (mode 0640), and by nobody else. */
  shareWith(gid: number): void {
    this.readerGid = gid;
  }

  async write(file: string, data: string): Promise<void> {
    const temp = `${file}.tmp`;
    await writeFile(temp, data, { mode: 0o600 });
    if (this.readerGid !== null) {
      await chown(temp, 0, this.readerGid);
      // Explicitly: the mode writeFile asks for passes through the server's umask (077).
      await chmod(temp, 0o640);
    }
    await rename(temp, file);
  }

  /** Points link at target (a name in the same directory) by renaming a new link over it. */
  async link(target: string, link: string): Promise<void> {
    const temp = `${link}.tmp`;
    await rm(temp, { force: true });
    await symlink(target, temp);
    await rename(temp, link);
  }
}

/** What a link points at, or null when there is no link. */
export async function readLinkIfExists(link: string): Promise<string | null> {
  try {
    return await readlink(link);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return null;
    throw error;
  }
}
