import { randomBytes } from 'node:crypto';
import type { Db } from './database.js';

/** The data dir's instance id, generated once: every container berth creates carries it. */
export function instanceId(db: Db): string {
  return db.transaction(() => {
    const row = db.prepare("SELECT value FROM meta WHERE key = 'instance'").get() as { value: string } | undefined;
    if (row) return row.value;
    const id = randomBytes(6).toString('hex');
    db.prepare("INSERT INTO meta (key, value) VALUES ('instance', ?)").run(id);
    return id;
  })();
}
