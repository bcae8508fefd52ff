import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { randomBytes } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import { isBackupOpen } from '../../domain/backup.js';
import { assertDatabaseName, parseBackupSettings, parseChange, parseNewDatabase, type Database } from '../../domain/database.js';
import { connectionUrl, DUMP_HEAD_BYTES, ENGINES, fileExtension, identifyDump, type DumpFormat } from '../../domain/database-engines.js';
import {
  BackupNotFoundError,
  DatabaseBusyError,
  DatabaseDoesNotFitError,
  DatabaseExistsError,
  DatabaseNameTakenError,
  DatabaseNotFoundError,
  DumpRefusedError,
  InvalidDatabaseError,
  RestoreNotFoundError,
  RestoreUnsupportedError,
} from '../../domain/errors.js';
import { printable } from '../../domain/names.js';
import { isRestoreOpen } from '../../domain/restore.js';
import { secretOwner } from '../../secrets/secret-store.js';
import { backupDoc, databaseDoc, databaseState, databaseSummary, restoreDoc } from '../database-documents.js';
import {
  BackupDoc,
  CreateDatabaseBody,
  DatabaseDoc,
  DatabaseItemParams,
  DatabaseParams,
  DatabaseSummaryDoc,
  DatabaseUrlDoc,
  DeleteDatabaseQuery,
  DumpQuery,
  HasDataDoc,
  RestoreDoc,
  UpdateDatabaseBody,
} from '../database-schemas.js';
import type { ApiDeps } from '../ports.js';
import { ErrorBody } from '../schemas.js';
import { actor } from './services.js';

const errors = { 400: ErrorBody, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody, 415: ErrorBody, 502: ErrorBody, 503: ErrorBody };
const EVENTS_IN_STATUS = 20;

/** Managed databases (DESIGN.md "Databases and secrets"). A project token sees only its own. */
export function databaseRoutes(deps: ApiDeps): FastifyPluginAsyncTypebox {
  const { store, auth } = deps;

  const databaseOf = (project: string, name: string): Database => {
    const db = store.databases.find(project, name);
    if (!db || db.status === 'DELETING') throw new DatabaseNotFoundError(printable(name));
    return db;
  };
  const activeOf = (project: string, name: string): Database => {
    const db = databaseOf(project, name);
    if (db.status !== 'ACTIVE') throw new DatabaseBusyError(`Database '${db.name}' was removed; 'berth db create ${db.name} --engine ${db.engine}' brings it back with its data`);
    return db;
  };
  const idOf = (text: string, notFound: (id: string) => Error): number => {
    if (!/^\d{1,12}$/.test(text)) throw notFound(printable(text));
    return Number(text);
  };
  const openRestore = (db: Database) => store.backups.restoresOf(db.id, 1).find((r) => isRestoreOpen(r.status)) ?? null;
  const checkFits = async (reservationMiB: number, freedMiB: number): Promise<void> => {
    const free = (await deps.capacityMiB()) - (await deps.reservedMiB()) + freedMiB;
    if (reservationMiB > free) {
      deps.metrics.admissionRefused('database');
      throw new DatabaseDoesNotFitError(`not enough memory: the database reserves ${reservationMiB} MiB, but only ${Math.max(0, free)} MiB is unreserved`);
    }
  };

  return async (app) => {
    // A dump to restore is the body itself, streamed to disk as it arrives.
    app.addContentTypeParser('application/octet-stream', (_request, payload, done) => done(null, payload));

    app.get('/databases', { schema: { tags: ['databases'], summary: 'The project’s databases', response: { 200: Type.Array(DatabaseSummaryDoc), ...errors } } }, async (request) => {
      const project = auth.requireProject(request);
      const dbs = store.databases.listByProject(project).filter((d) => d.status !== 'DELETING');
      return Promise.all(dbs.map(async (db) => databaseSummary(db, databaseState(db, await deps.databases.observe(db), openRestore(db) !== null))));
    });

    app.post('/databases', { schema: { tags: ['databases'], summary: 'Create a database (or bring back a removed one with its data)', body: CreateDatabaseBody, response: { 201: DatabaseSummaryDoc, ...errors } } }, async (request, reply) => {
      const project = auth.requireProject(request);
      const { name } = request.body;
      assertDatabaseName(name);
      const parsed = parseNewDatabase(request.body);
      const existing = store.databases.find(project, name);
      if (existing && existing.status !== 'REMOVED') throw new DatabaseExistsError(`Database '${name}' already exists`);
      if (existing && existing.engine !== parsed.engine) throw new DatabaseExistsError(`Database '${name}' was removed with its ${existing.engine} data kept; delete it with 'berth db rm ${name} --delete-data' to use the name for ${parsed.engine}`);
      if (store.services.find(project, name)) throw new DatabaseNameTakenError(`'${name}' is a service of this project; a database's name is its host name on the project's network`);
      await checkFits(parsed.definition.memoryReservationMiB, 0);
      const db = store.transaction(() => {
        const made = existing ? store.databases.change(existing.id, parsed.definition) : store.databases.create({ project, name, ...parsed });
        if (existing) store.databases.setBackupSettings(made.id, parsed.backupSchedule, parsed.backupsKept);
        // A removed database's data still has its old password.
        else deps.secrets.put(secretOwner.database(made.id), 'password', randomBytes(24).toString('base64url'));
        store.databases.addEvent(made.id, existing ? 'created again over its kept data' : `created (${parsed.engine}, ${parsed.definition.image})`);
        deps.audit.record({ actor: actor(project, request.ip), action: 'database.create', target: `${project}/${name}`, detail: `${parsed.engine}, ${parsed.definition.image}, ${parsed.definition.memoryReservationMiB}/${parsed.definition.memoryLimitMiB} MiB${parsed.backupSchedule ? `, backups ${parsed.backupSchedule} keep ${parsed.backupsKept}` : ''}` });
        return made;
      });
      deps.desiredStateChanged();
      return reply.status(201).send(databaseSummary(db, 'starting'));
    });

    app.get('/databases/:name', { schema: { tags: ['databases'], summary: 'A database: state, task, backups, restore, events', params: DatabaseParams, response: { 200: DatabaseDoc, ...errors } } }, async (request) => {
      const project = auth.requireProject(request);
      const db = databaseOf(project, request.params.name);
      return databaseDoc(db, await deps.databases.observe(db), {
        backups: store.backups.ofDatabase(db.id).filter((b) => !isBackupOpen(b.status) || b.status === 'verifying'),
        restores: store.backups.restoresOf(db.id, 1),
        events: store.databases.events(db.id, EVENTS_IN_STATUS),
      });
    });

    app.patch('/databases/:name', { schema: { tags: ['databases'], summary: 'Change a database: image, memory (a stop-first replacement), backups', params: DatabaseParams, body: UpdateDatabaseBody, response: { 200: DatabaseSummaryDoc, ...errors } } }, async (request) => {
      const project = auth.requireProject(request);
      const db = activeOf(project, request.params.name);
      if (openRestore(db)) throw new DatabaseBusyError(`Database '${db.name}' is being restored; change it once the restore has ended`);
      const current = db.serving ?? db.definition;
      const definition = parseChange(current, db.engine, request.body);
      const backups = parseBackupSettings(request.body, db);
      const changed = JSON.stringify(definition) !== JSON.stringify(current);
      if (changed) await checkFits(definition.memoryReservationMiB, current.memoryReservationMiB);
      store.transaction(() => {
        if (changed) store.databases.change(db.id, definition);
        store.databases.setBackupSettings(db.id, backups.backupSchedule, backups.backupsKept);
        deps.audit.record({ actor: actor(project, request.ip), action: 'database.update', target: `${project}/${db.name}`, detail: `${definition.image}, ${definition.memoryReservationMiB}/${definition.memoryLimitMiB} MiB, backups ${backups.backupSchedule ?? 'none'} keep ${backups.backupsKept}` });
      });
      deps.desiredStateChanged();
      return databaseSummary(store.databases.byId(db.id) as Database, changed ? 'updating' : 'ready');
    });

    app.delete('/databases/:name', { schema: { tags: ['databases'], summary: 'Remove a database; its volume and backups stay unless delete_data=true', params: DatabaseParams, querystring: DeleteDatabaseQuery, response: { 200: DatabaseSummaryDoc, ...errors } } }, async (request) => {
      const project = auth.requireProject(request);
      const db = databaseOf(project, request.params.name);
      const deleteData = request.query.delete_data === 'true';
      store.transaction(() => {
        store.databases.setStatus(db.id, 'DELETING', deleteData);
        store.databases.addEvent(db.id, deleteData ? 'deletion requested, with its data' : 'removal requested; its data is kept');
        deps.audit.record({ actor: actor(project, request.ip), action: 'database.delete', target: `${project}/${db.name}`, detail: deleteData ? 'with its volume and backups' : 'volume and backups kept' });
      });
      deps.desiredStateChanged();
      return databaseSummary(db, 'deleting');
    });

    app.get('/databases/:name/url', { schema: { tags: ['databases'], summary: 'The connection URL, password included (project token only)', params: DatabaseParams, response: { 200: DatabaseUrlDoc, ...errors } } }, async (request) => {
      const project = auth.requireProject(request);
      const db = databaseOf(project, request.params.name);
      deps.audit.record({ actor: actor(project, request.ip), action: 'database.url', target: `${project}/${db.name}`, detail: null });
      return { url: connectionUrl(db.engine, db.name, deps.secrets.get(secretOwner.database(db.id), 'password') ?? '') };
    });

    app.get('/databases/:name/data', { schema: { tags: ['databases'], summary: 'Whether the database holds any table or key (a restore asks first when it does)', params: DatabaseParams, response: { 200: HasDataDoc, ...errors } } }, async (request) => {
      const project = auth.requireProject(request);
      return { has_data: await deps.databases.hasData(activeOf(project, request.params.name)) };
    });

    app.get(
      '/databases/:name/dump',
      { schema: { tags: ['databases'], summary: 'Stream a consistent dump (custom or sql for PostgreSQL, rdb for Redis)', params: DatabaseParams, querystring: DumpQuery, produces: ['application/octet-stream'], response: { 200: Type.Unknown({ description: 'the dump, streamed' }), ...errors } } },
      async (request, reply) => {
        const project = auth.requireProject(request);
        const db = activeOf(project, request.params.name);
        const format = formatOf(db, request.query.format);
        deps.audit.record({ actor: actor(project, request.ip), action: 'database.dump', target: `${project}/${db.name}`, detail: format });
        const aborted = new AbortController();
        request.raw.once('close', () => aborted.abort(new Error('the client went away')));
        const body = new PassThrough();
        const dumping = deps.databases.dump(db, format, body, aborted.signal);
        // A failure before the first byte is an error answer; after it, the connection is cut, so no client keeps half a dump as whole.
        dumping.catch((error: Error) => {
          request.log.warn(`dump of ${project}/${db.name} failed: ${error.message}`);
          body.destroy(error);
        });
        reply.header('content-type', 'application/octet-stream');
        reply.header('content-disposition', `attachment; filename="${db.name}.${fileExtension(format)}"`);
        reply.header('x-berth-dump-format', format);
        return reply.send(body);
      },
    );

    app.post(
      '/databases/:name/restore',
      { schema: { tags: ['databases'], summary: 'Restore an uploaded dump (application/octet-stream) into a fresh database, then swap', params: DatabaseParams, response: { 202: RestoreDoc, ...errors } } },
      async (request, reply) => {
        const project = auth.requireProject(request);
        const db = activeOf(project, request.params.name);
        const payload = request.body as Readable | undefined;
        if (!(payload instanceof Readable)) throw new DumpRefusedError('Send the dump as the body, with Content-Type: application/octet-stream');
        const { head, rest } = await readHead(payload, DUMP_HEAD_BYTES);
        let format: DumpFormat;
        try {
          format = checkDump(db, head);
          busyCheck(db);
        } catch (error) {
          // Read and dropped, so the client that is still sending gets the answer.
          rest.resume();
          throw error;
        }
        const announced = Number(request.headers['content-length']);
        const restore = await deps.databases.receive(db, Readable.from(chain(head, rest)), format, Number.isSafeInteger(announced) ? announced : null, (file, size) =>
          store.transaction(() => {
            const made = store.backups.createRestore({ databaseId: db.id, backupId: null, file, format, size });
            const detail = size === null ? 'loading while it arrives' : `${size} bytes`;
            store.databases.addEvent(db.id, `restore ${made.id} of an uploaded ${format} dump (${detail}) ${size === null ? 'started' : 'queued'}`);
            deps.audit.record({ actor: actor(project, request.ip), action: 'database.restore', target: `${project}/${db.name}`, detail: `upload, ${format}, ${detail}` });
            return made;
          }),
        );
        deps.desiredStateChanged();
        return reply.status(202).send(restoreDoc(restore));
      },
    );

    const busyCheck = (db: Database): void => {
      // A Redis restore loads the RDB into a task made but not started; a Swarm task starts when it is made.
      if (db.engine === 'redis' && deps.nodes?.orchestrator === 'swarm') {
        throw new RestoreUnsupportedError(`A Redis restore is not supported on Swarm yet; 'berth db dump ${db.name}' works, and a restore runs on a plain engine`);
      }
      if (openRestore(db)) throw new DatabaseBusyError(`Database '${db.name}' is already being restored`);
      if (db.step !== null) throw new DatabaseBusyError(`Database '${db.name}' is being replaced (step ${db.step}); restore once it is ready`);
    };

    app.get('/databases/:name/restores/:id', { schema: { tags: ['databases'], summary: 'A restore', params: DatabaseItemParams, response: { 200: RestoreDoc, ...errors } } }, async (request) => {
      const project = auth.requireProject(request);
      const db = databaseOf(project, request.params.name);
      const restore = store.backups.restore(idOf(request.params.id, (id) => new RestoreNotFoundError(id)));
      if (!restore || restore.databaseId !== db.id) throw new RestoreNotFoundError(printable(request.params.id));
      return restoreDoc(restore);
    });

    app.get('/databases/:name/backups', { schema: { tags: ['databases'], summary: 'Backups, newest first, with their verdicts', params: DatabaseParams, response: { 200: Type.Array(BackupDoc), ...errors } } }, async (request) => {
      const project = auth.requireProject(request);
      const db = databaseOf(project, request.params.name);
      // One being written is not listed: it is not a backup yet.
      return store.backups.ofDatabase(db.id).filter((b) => b.status !== 'taking').map(backupDoc);
    });

    app.post('/databases/:name/backups', { schema: { tags: ['databases'], summary: 'Take a backup now (verified like every backup)', params: DatabaseParams, response: { 202: BackupDoc, ...errors } } }, async (request, reply) => {
      const project = auth.requireProject(request);
      const db = activeOf(project, request.params.name);
      const backup = store.transaction(() => {
        const queued = store.backups.queue(db.id, 'manual', ENGINES[db.engine].formats[0] ?? 'custom');
        deps.audit.record({ actor: actor(project, request.ip), action: 'database.backup', target: `${project}/${db.name}`, detail: `backup ${queued.id}` });
        return queued;
      });
      deps.desiredStateChanged();
      return reply.status(202).send(backupDoc(backup));
    });

    const backupOf = (db: Database, text: string) => {
      const backup = store.backups.get(idOf(text, (id) => new BackupNotFoundError(id)));
      if (!backup || backup.databaseId !== db.id || backup.status === 'taking') throw new BackupNotFoundError(printable(text));
      return backup;
    };

    app.get('/databases/:name/backups/:id', { schema: { tags: ['databases'], summary: 'One backup', params: DatabaseItemParams, response: { 200: BackupDoc, ...errors } } }, async (request) => {
      const project = auth.requireProject(request);
      return backupDoc(backupOf(databaseOf(project, request.params.name), request.params.id));
    });

    app.post('/databases/:name/backups/:id/verify', { schema: { tags: ['databases'], summary: 'Check a backup again: its checksum, then a restore into a scratch task', params: DatabaseItemParams, response: { 202: BackupDoc, ...errors } } }, async (request, reply) => {
      const project = auth.requireProject(request);
      const db = activeOf(project, request.params.name);
      const backup = backupOf(db, request.params.id);
      if (isBackupOpen(backup.status) || backup.file === null) throw new DatabaseBusyError(`Backup ${backup.id} is ${backup.status}`);
      store.backups.reverify(backup.id);
      deps.desiredStateChanged();
      return reply.status(202).send(backupDoc(store.backups.get(backup.id) ?? backup));
    });

    app.post('/databases/:name/backups/:id/restore', { schema: { tags: ['databases'], summary: 'Restore a backup into a fresh database, then swap', params: DatabaseItemParams, response: { 202: RestoreDoc, ...errors } } }, async (request, reply) => {
      const project = auth.requireProject(request);
      const db = activeOf(project, request.params.name);
      const backup = backupOf(db, request.params.id);
      if (backup.file === null || backup.size === null) throw new DatabaseBusyError(`Backup ${backup.id} has no file yet`);
      busyCheck(db);
      const restore = store.transaction(() => {
        const made = store.backups.createRestore({ databaseId: db.id, backupId: backup.id, file: backup.file as string, format: backup.format, size: backup.size as number });
        store.databases.addEvent(db.id, `restore ${made.id} of backup ${backup.id} queued`);
        deps.audit.record({ actor: actor(project, request.ip), action: 'database.restore', target: `${project}/${db.name}`, detail: `backup ${backup.id}` });
        return made;
      });
      deps.desiredStateChanged();
      return reply.status(202).send(restoreDoc(restore));
    });
  };
}

function formatOf(db: Database, asked: string | undefined): DumpFormat {
  const formats = ENGINES[db.engine].formats;
  const format = (asked ?? formats[0]) as DumpFormat;
  if (!formats.includes(format)) throw new InvalidDatabaseError(`A ${db.engine} dump's format is ${formats.join(' or ')}, not '${printable(String(asked))}'`);
  return format;
}

/** The upload's engine and format from its first bytes; refused before anything is written or touched. */
function checkDump(db: Database, head: Buffer): DumpFormat {
  const dump = identifyDump(head);
  if (dump === null) throw new DumpRefusedError(`That file is not a ${db.engine} dump (${db.engine === 'postgres' ? "pg_dump's custom format or its plain SQL" : 'an RDB snapshot'}); nothing was changed`);
  if (dump.engine !== db.engine) throw new DumpRefusedError(`That is a ${dump.engine} dump; '${db.name}' is a ${db.engine} database. Nothing was changed`);
  return dump.format;
}

async function readHead(stream: Readable, bytes: number): Promise<{ head: Buffer; rest: AsyncIterator<Buffer> & { resume(): void } }> {
  const iterator = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const chunks: Buffer[] = [];
  let length = 0;
  while (length < bytes) {
    const next = await iterator.next();
    if (next.done) break;
    chunks.push(next.value);
    length += next.value.length;
  }
  return { head: Buffer.concat(chunks), rest: Object.assign(iterator, { resume: () => void stream.resume() }) };
}

async function* chain(head: Buffer, rest: AsyncIterator<Buffer>): AsyncGenerator<Buffer> {
  if (head.length > 0) yield head;
  for (;;) {
    const next = await rest.next();
    if (next.done) return;
    yield next.value;
  }
}
