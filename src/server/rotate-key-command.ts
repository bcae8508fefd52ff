import { rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { readFileIfExists } from '../fs/atomic-file.js';
import { systemClock } from '../domain/model.js';
import { faultPointsFromEnv } from '../reconciler/fault-points.js';
import { rotateKey, type Rotation } from '../secrets/rotate-key.js';
import { openDatabase } from '../store/database.js';
import { Store } from '../store/store.js';
import { claimDataDir } from './data-dir.js';

/**
 * `berth server rotate-key`: runs on the data dir while no server does (it claims the data dir
 * as a server would, so none starts meanwhile), and gives the claim back when it is done.
 */
export async function runRotateKey(dataDir: string): Promise<Rotation> {
  process.umask(0o077);
  const dir = resolve(dataDir);
  await claimDataDir(dir);
  const store = new Store(openDatabase(join(dir, 'berth.db')), systemClock);
  try {
    return await rotateKey(dir, store.secrets, faultPointsFromEnv(process.env), new Date());
  } finally {
    store.db.close();
    const pidFile = join(dir, 'server.pid');
    if ((await readFileIfExists(pidFile))?.trim() === String(process.pid)) await rm(pidFile, { force: true });
  }
}
