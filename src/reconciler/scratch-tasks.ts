import type { Database } from '../domain/database.js';
import type { BackgroundWork } from './background-work.js';
import type { DumpSource } from './database-driver.js';
import type { DatabaseTasks } from './database-tasks.js';
import type { DatabaseTask } from './labels.js';

export type ScratchState = { readonly state: 'preparing' } | { readonly state: 'running'; readonly task: DatabaseTask } | { readonly state: 'failed'; readonly reason: string };

/**
 * A scratch task of a database's image, holding a dump: made (not started), given what must be
 * there before it starts, then started — in the background, as copying a large file takes a
 * while. One left half-made by a crash (made, never started) is removed and made again.
 */
export async function ensureScratch(
  tasks: DatabaseTasks,
  work: BackgroundWork,
  db: Database,
  purpose: string,
  existing: DatabaseTask | undefined,
  source: DumpSource,
): Promise<ScratchState> {
  const key = `scratch:${purpose}`;
  if (existing && existing.container.state === 'exited') {
    const { details, lines } = await tasks.remains(existing);
    const tail = lines.slice(-3).map((l) => l.message).join(' | ');
    return { state: 'failed', reason: `its scratch task exited with code ${details?.exitCode ?? 'unknown'}${tail ? `: ${tail}` : ''}` };
  }
  if (existing && existing.container.state === 'running') {
    work.forget(key);
    return { state: 'running', task: existing };
  }
  const state = work.ensure(key, async () => {
    if (existing) await tasks.remove(existing);
    const definition = db.serving ?? db.definition;
    const id = await tasks.launch(db, definition, db.servingRevision ?? db.revision, purpose, false);
    await tasks.drivers[db.engine].beforeScratchStart(id, source);
    await tasks.startById(id);
  });
  if (state.status === 'failed') {
    work.forget(key);
    return { state: 'failed', reason: state.error.message };
  }
  if (state.status === 'done') work.forget(key);
  return { state: 'preparing' };
}
