import { randomBytes } from 'node:crypto';
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
