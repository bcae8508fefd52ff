import { Type } from '@sinclair/typebox';

export const DatabaseParams = Type.Object({ name: Type.String({ maxLength: 256 }) });
export const DatabaseItemParams = Type.Object({ name: Type.String({ maxLength: 256 }), id: Type.String({ maxLength: 32 }) });

const settings = {
  image: Type.Optional(Type.String({ maxLength: 512, description: 'any image keeping the official image’s contract' })),
  version: Type.Optional(Type.String({ maxLength: 128, description: 'the tag of the engine’s image (postgres:VERSION, redis:VERSION)' })),
  'memory-reservation': Type.Optional(Type.Integer({ description: 'MiB' })),
  'memory-limit': Type.Optional(Type.Integer({ description: 'MiB' })),
  'backup-schedule': Type.Optional(Type.Union([Type.String({ maxLength: 128 }), Type.Null()], { description: 'cron expression (UTC); null or "" for none' })),
  keep: Type.Optional(Type.Integer({ description: 'verified backups kept' })),
};

export const CreateDatabaseBody = Type.Object({ name: Type.String({ maxLength: 256 }), engine: Type.String({ maxLength: 32 }), ...settings }, { additionalProperties: false });
export const UpdateDatabaseBody = Type.Object(settings, { additionalProperties: false });

export const DatabaseSummaryDoc = Type.Object({
  name: Type.String(),
  engine: Type.String(),
  status: Type.String({ description: 'starting, ready, updating, restoring, failed, removed, deleting' }),
  image: Type.String(),
  host: Type.String(),
  port: Type.Integer(),
});

export const BackupDoc = Type.Object({
  id: Type.Integer(),
  status: Type.String({ description: 'queued, taking, verifying, verified, failed' }),
  verified: Type.Boolean(),
  trigger: Type.String(),
  format: Type.String(),
  size: Type.Union([Type.Integer(), Type.Null()]),
  sha256: Type.Union([Type.String(), Type.Null()]),
  counts: Type.Union([Type.Record(Type.String(), Type.Integer()), Type.Null()]),
  dump_seconds: Type.Union([Type.Number(), Type.Null()]),
  verify_seconds: Type.Union([Type.Number(), Type.Null()]),
  reason: Type.Union([Type.String(), Type.Null()]),
  created_at: Type.String(),
  finished_at: Type.Union([Type.String(), Type.Null()]),
});

export const RestoreDoc = Type.Object({
  id: Type.Integer(),
  status: Type.String({ description: 'queued, loading, swapping, succeeded, failed' }),
  backup: Type.Union([Type.Integer(), Type.Null()]),
  size: Type.Integer(),
  reason: Type.Union([Type.String(), Type.Null()]),
  created_at: Type.String(),
  finished_at: Type.Union([Type.String(), Type.Null()]),
});

export const DatabaseDoc = Type.Object({
  ...DatabaseSummaryDoc.properties,
  revision: Type.Integer(),
  memory_reservation: Type.Integer(),
  memory_limit: Type.Integer(),
  task: Type.Union([Type.String(), Type.Null()]),
  task_state: Type.String(),
  reason: Type.Union([Type.String(), Type.Null()]),
  backup_schedule: Type.Union([Type.String(), Type.Null()]),
  keep: Type.Integer(),
  next_backup_at: Type.Union([Type.String(), Type.Null()]),
  last_backup: Type.Union([BackupDoc, Type.Null()]),
  restore: Type.Union([RestoreDoc, Type.Null()]),
  events: Type.Array(Type.Object({ created_at: Type.String(), message: Type.String() })),
});

export const DatabaseUrlDoc = Type.Object({ url: Type.String() });
export const HasDataDoc = Type.Object({ has_data: Type.Boolean() });
export const DumpQuery = Type.Object({ format: Type.Optional(Type.String({ maxLength: 16 })) }, { additionalProperties: false });
export const DeleteDatabaseQuery = Type.Object({ delete_data: Type.Optional(Type.String({ maxLength: 8 })) }, { additionalProperties: false });
