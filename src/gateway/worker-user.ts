import { readFile } from 'node:fs/promises';
import { ConfigError } from '../domain/errors.js';

/** The unprivileged account nginx's workers run as when berth runs as root. */
export interface WorkerUser {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  readonly group: string;
}

/** Used when `--gateway-user` is not given: Debian's web server account, else `nobody`. */
export const DEFAULT_WORKER_USERS = ['www-data', 'nobody'] as const;

/**
 * Looks the account up in /etc/passwd and /etc/group (Node has no getpwnam). Throws
 * ConfigError when it does not exist or is root: workers as root could read everything
 * under the data dir, berth's database and secrets among it.
 */
export async function lookupWorkerUser(names: readonly string[], files = { passwd: '/etc/passwd', group: '/etc/group' }): Promise<WorkerUser> {
  const passwd = await readFile(files.passwd, 'utf8');
  const groups = await readFile(files.group, 'utf8');
  for (const name of names) {
    const entry = passwd.split('\n').find((line) => line.split(':')[0] === name);
    if (!entry) continue;
    const [, , uid, gid] = entry.split(':');
    const user = { name, uid: Number(uid), gid: Number(gid) };
    if (user.uid === 0 || user.gid === 0) throw new ConfigError(`--gateway-user ${name} is root; nginx's workers must run unprivileged`);
    const group = groups.split('\n').find((line) => line.split(':')[2] === String(user.gid))?.split(':')[0] ?? String(user.gid);
    return { ...user, group };
  }
  throw new ConfigError(`no user ${names.join(' or ')} on this machine for nginx's workers; create one or pass --gateway-user`);
}
