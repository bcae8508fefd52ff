import { describe, expect, it } from 'vitest';
import { RestoreStreams } from '../../src/reconciler/restore-streams.js';
import { openDatabase } from '../../src/store/database.js';
import { Store } from '../../src/store/store.js';

function storeWithDatabase(): { store: Store; databaseId: number } {
  const store = new Store(openDatabase(':memory:'), { now: () => 1_000 });
  store.projects.create('p');
  const definition = { image: 'postgres:15', memoryReservationMiB: 128, memoryLimitMiB: 256 };
  const db = store.databases.create({ project: 'p', name: 'main', engine: 'postgres', definition, backupSchedule: null, backupsKept: 7 });
  return { store, databaseId: db.id };
}

describe('restores in the store', () => {
  it('queue one whose file is whole, and keep one loading while its upload arrives open and receiving until it is whole', () => {
    const { store, databaseId } = storeWithDatabase();
    const queued = store.backups.createRestore({ databaseId, backupId: null, file: 'a.dump', format: 'custom', size: 10 });
    expect(queued).toMatchObject({ status: 'queued', size: 10, receiving: false });

    const arriving = store.backups.createRestore({ databaseId, backupId: null, file: 'b.dump', format: 'custom', size: null });
    expect(arriving).toMatchObject({ status: 'loading', size: 0, receiving: true });
    expect(store.backups.openRestores().map((r) => r.id)).toEqual([queued.id, arriving.id]);
    expect(store.backups.restoreFiles()).toEqual(new Set(['a.dump', 'b.dump']));

    store.backups.setRestoreReceived(arriving.id, 1234);
    expect(store.backups.restore(arriving.id)).toMatchObject({ status: 'loading', size: 1234, receiving: false });
  });
});

describe('restore streams', () => {
  it('tell a load running, done or failed, and an upload that broke, waking the reconciler each time', () => {
    let kicks = 0;
    const streams = new RestoreStreams(() => kicks++);
    expect(streams.get(1)).toBeNull();
    streams.begin(1);
    expect(streams.get(1)).toEqual({ load: 'running', uploadFailure: null });
    streams.uploadFailed(1, 'aborted');
    const failure = new Error('pg_restore exited with code 1');
    streams.loadEnded(1, failure);
    expect(streams.get(1)).toEqual({ load: failure, uploadFailure: 'aborted' });
    expect(kicks).toBe(2);
    streams.forget(1);
    expect(streams.get(1)).toBeNull();
  });
});
