import { Type, type Static } from '@sinclair/typebox';
import { EnvVar, LogsDoc } from './schemas.js';

/** `POST /jobs`: run a command to completion, with a service's image and environment or an image of its own. */
export const CreateJobBody = Type.Object(
  {
    service: Type.Optional(Type.String({ maxLength: 256, description: "run with this service's current image and environment" })),
    image: Type.Optional(Type.String({ maxLength: 512, description: 'run this image (instead of a service)' })),
    command: Type.Optional(Type.Array(Type.String({ maxLength: 4096 }), { maxItems: 128, description: "the command and its arguments; default: the image's" })),
    environment: Type.Optional(Type.Array(EnvVar, { maxItems: 512, description: "variables; over the service's when run from one" })),
    'memory-reservation': Type.Optional(Type.Integer({ description: 'MiB; the job waits queued until this much is free (default: the limit)' })),
    'memory-limit': Type.Optional(Type.Integer({ description: "MiB (default: the service's, else 256)" })),
    'cpu-limit': Type.Optional(Type.Number()),
    'pids-limit': Type.Optional(Type.Integer()),
    'cap-add': Type.Optional(Type.Array(Type.String({ maxLength: 32 }), { maxItems: 16 })),
    timeout: Type.Optional(Type.Number({ description: 'seconds an attempt may run; then it is killed and the job ends timed-out' })),
    retries: Type.Optional(Type.Integer({ description: 'attempts after a failed one, with backoff 1 s, 2 s, 4 s … (default 0)' })),
    schedule: Type.Optional(Type.String({ maxLength: 128, description: 'a cron expression (UTC): the job queues a run each time it is due' })),
  },
  { additionalProperties: false },
);

export const JobParams = Type.Object({ id: Type.String({ maxLength: 32 }) });

export const JobListQuery = Type.Object(
  { limit: Type.Optional(Type.String({ maxLength: 8 })) },
  { additionalProperties: false },
);

export const JobLogsQuery = Type.Object(
  { tail: Type.Optional(Type.String({ maxLength: 8 })) },
  { additionalProperties: false },
);

const Progress = Type.Object({
  done: Type.Number(),
  total: Type.Number(),
  message: Type.Union([Type.String(), Type.Null()]),
  percent: Type.Integer(),
});

const Attempt = Type.Object({
  number: Type.Integer(),
  task_name: Type.String(),
  started_at: Type.String(),
  finished_at: Type.Union([Type.String(), Type.Null()]),
  exit_code: Type.Union([Type.Integer(), Type.Null()]),
  oom_killed: Type.Boolean(),
  outcome: Type.Union([Type.String(), Type.Null()]),
});

export const JobSummaryDoc = Type.Object({
  id: Type.Integer(),
  status: Type.String({ description: 'scheduled, queued, running, succeeded, failed, cancelled or timed-out' }),
  service: Type.Union([Type.String(), Type.Null()]),
  image: Type.String(),
  command: Type.Union([Type.Array(Type.String()), Type.Null()]),
  attempts: Type.Integer(),
  exit_code: Type.Union([Type.Integer(), Type.Null()]),
  reason: Type.Union([Type.String(), Type.Null()]),
  progress: Type.Union([Progress, Type.Null()]),
  schedule: Type.Union([Type.String(), Type.Null()]),
  next_run: Type.Union([Type.String(), Type.Null()]),
  schedule_id: Type.Union([Type.Integer(), Type.Null()]),
  created_at: Type.String(),
  started_at: Type.Union([Type.String(), Type.Null()]),
  finished_at: Type.Union([Type.String(), Type.Null()]),
});

export const JobDoc = Type.Intersect([
  JobSummaryDoc,
  Type.Object({
    memory_reservation: Type.Integer(),
    memory_limit: Type.Integer(),
    timeout: Type.Union([Type.Number(), Type.Null()]),
    retries: Type.Integer(),
    attempt_list: Type.Array(Attempt),
    events: Type.Array(Type.Object({ created_at: Type.String(), message: Type.String() })),
  }),
]);

export const CreateJobResponse = Type.Object({ id: Type.Integer(), status: Type.String() });

export const JobLogsDoc = LogsDoc;

export type JobSummaryDocT = Static<typeof JobSummaryDoc>;
export type JobDocT = Static<typeof JobDoc>;
export type CreateJobBodyT = Static<typeof CreateJobBody>;
