import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ConfigError } from '../domain/errors.js';

/** Writes a file so a reader sees the old or the new content, never a torn one. */
export function writeFileAtomic(path: string, content: string, mode = 0o644): void {
  mkdirSync(dirname(path), { recursive: true });
  const temp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const fd = openSync(temp, 'w', mode);
  try {
    writeSync(fd, content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, path);
}

export interface AdminToken {
  readonly token: string;
  /** Where a generated token is kept; null when it came from BERTH_ADMIN_TOKEN. */
  readonly file: string | null;
}

/** BERTH_ADMIN_TOKEN when set; otherwise the token kept under the data dir, generated once with mode 0600. */
export function loadAdminToken(dataDir: string, fromEnv: string | null): AdminToken {
  if (fromEnv !== null) return { token: fromEnv, file: null };
  const file = join(dataDir, 'admin-token');
  try {
    const stored = readFileSync(file, 'utf8').trim();
    if (stored.length > 0) return { token: stored, file };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const token = randomBytes(24).toString('base64url');
  writeFileAtomic(file, `${token}\n`, 0o600);
  return { token, file };
}

/** Refuses to start a second server on the same data dir while the first one lives. */
export function claimDataDir(dataDir: string): void {
  const file = join(dataDir, 'server.pid');
  let pid = Number.NaN;
  try {
    pid = Number(readFileSync(file, 'utf8').trim());
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isAlive(pid)) {
    throw new ConfigError(`Another berth server (pid ${pid}) is using ${dataDir}`);
  }
  writeFileAtomic(file, `${process.pid}\n`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
