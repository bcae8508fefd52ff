import { randomBytes } from 'node:crypto';
import { chmod, lstat, mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError } from '../domain/errors.js';
import { readFileIfExists, writeFileAtomic } from '../fs/atomic-file.js';
import { isLive, readProcessInfo } from '../process/proc-fs.js';

export interface AdminToken {
  readonly token: string;
  /** Where a generated token is kept; null when it came from BERTH_ADMIN_TOKEN. */
  readonly file: string | null;
}

/** BERTH_ADMIN_TOKEN when set; otherwise the token kept under the data dir, generated once with mode 0600. */
export async function loadAdminToken(dataDir: string, fromEnv: string | null): Promise<AdminToken> {
  if (fromEnv !== null) return { token: fromEnv, file: null };
  const file = join(dataDir, 'admin-token');
  const stored = (await readFileIfExists(file))?.trim();
  if (stored) return { token: stored, file };
  const token = randomBytes(24).toString('base64url');
  await writeFileAtomic(file, `${token}\n`, 0o600);
  return { token, file };
}

/** Refuses to start a second server on the same data dir while the first one lives. */
export async function claimDataDir(dataDir: string): Promise<void> {
  const file = join(dataDir, 'server.pid');
  const pid = Number((await readFileIfExists(file))?.trim());
  if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isLive(readProcessInfo(pid))) {
    throw new ConfigError(`Another berth server (pid ${pid}) is using ${dataDir}`);
  }
  await writeFileAtomic(file, `${process.pid}\n`, 0o644);
}

/** Never walked: the registry's blobs are many, and Distribution writes them under the server's umask. */
const NOT_WALKED = new Set(['storage']);

/**
 * Makes the data dir and everything berth wrote in it readable by berth's user only: the
 * database holds environment values, the registry dir its signing key. A dir an operator made
 * (0755, say), or files an older berth wrote under a 022 umask, are fixed; each fix is
 * returned in words for the log. New files are 0600 by the server's umask (077).
 */
export async function secureDataDir(dataDir: string): Promise<string[]> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const fixed: string[] = [];
  const walk = async (path: string, depth: number): Promise<void> => {
    const info = await lstat(path);
    if (info.isSymbolicLink()) return;
    if ((info.mode & 0o077) !== 0) {
      const mode = (info.mode & 0o700) | (info.isDirectory() ? 0o700 : 0);
      await chmod(path, mode);
      fixed.push(`${path} was mode ${octal(info.mode)}, open to other users; it is now ${octal(mode)}`);
    }
    if (!info.isDirectory() || depth >= 3) return;
    for (const entry of await readdir(path)) {
      if (!NOT_WALKED.has(entry)) await walk(join(path, entry), depth + 1);
    }
  };
  await walk(dataDir, 0);
  return fixed;
}

function octal(mode: number): string {
  return (mode & 0o777).toString(8).padStart(4, '0');
}
