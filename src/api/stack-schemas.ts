import { Type, type Static } from '@sinclair/typebox';
import { DockerCredentialsDoc } from './schemas.js';

/** A stack's request may carry its compose files and the files they name: more than a service's definition. */
export const STACK_BODY_LIMIT_BYTES = 8 * 1024 * 1024;

const Name = Type.String({ maxLength: 256 });
const ComposeFileInput = Type.Object(
  { name: Type.String({ maxLength: 256 }), text: Type.String() },
  { additionalProperties: false },
);

/** `PUT /stacks/<name>`: compose's `up`, with the files as the CLI read them. */
export const PutStackBody = Type.Object(
  {
    compose: Type.Optional(Type.String({ description: 'the compose file’s text (one file)' })),
    files: Type.Optional(Type.Array(ComposeFileInput, { maxItems: 16, description: 'compose files merged in order, as `-f a -f b` (after `compose`, if given)' })),
    environment: Type.Optional(Type.Record(Type.String({ maxLength: 256 }), Type.String(), { description: 'variables for interpolation (.env, --env-file, the shell’s)' })),
    attachments: Type.Optional(Type.Record(Type.String({ maxLength: 1024 }), Type.String(), { description: 'env_file, secrets and configs files, by the path the compose file names' })),
    directory: Type.Optional(Type.String({ maxLength: 4096, description: 'the compose file’s directory on the server’s host: relative bind mounts are below it' })),
    services: Type.Optional(Type.Array(Name, { maxItems: 256, description: 'start only these (and their dependencies)' })),
    no_deps: Type.Optional(Type.Boolean({ description: 'start only the services named, not their dependencies' })),
    profiles: Type.Optional(Type.Array(Type.String({ maxLength: 128 }), { maxItems: 64 })),
    images: Type.Optional(Type.Record(Name, Type.String({ maxLength: 512 }), { description: 'images `compose build` pushed, by compose service name' })),
    remove_orphans: Type.Optional(Type.Boolean({ description: 'remove the stack’s services the file no longer has' })),
  },
  { additionalProperties: false },
);
export type PutStackBodyT = Static<typeof PutStackBody>;

export const PutStackQuery = Type.Object(
  { dry_run: Type.Optional(Type.Union([Type.Literal('true'), Type.Literal('false')], { description: 'check and answer what up would do, changing nothing (compose config)' })) },
  { additionalProperties: false },
);

export const StackParams = Type.Object({ name: Name });
export const StackServiceParams = Type.Object({ name: Name, service: Name });

export const DeleteStackQuery = Type.Object(
  {
    volumes: Type.Optional(
      Type.Union([Type.Literal('true'), Type.Literal('false')], { description: 'also remove the stack’s named volumes (down -v); its services’ repositories always go with them' }),
    ),
  },
  { additionalProperties: false },
);

export const KillBody = Type.Object(
  { signal: Type.Optional(Type.String({ maxLength: 16, description: 'default SIGKILL' })) },
  { additionalProperties: false },
);

export const RmBody = Type.Object(
  { stop: Type.Optional(Type.Boolean({ description: 'stop it first if it runs (rm -s)' })) },
  { additionalProperties: false },
);

export const CredentialsBody = Type.Object(
  { services: Type.Array(Name, { minItems: 1, maxItems: 256, description: 'compose names of the services that build' }) },
  { additionalProperties: false },
);

export const StackCredentialsDoc = Type.Object({ services: Type.Record(Type.String(), DockerCredentialsDoc) });

const PlannedServiceDoc = Type.Object({
  name: Type.String({ description: 'the compose name' }),
  service: Type.String({ description: 'berth’s service name' }),
  action: Type.String({ description: 'create, update, start or unchanged' }),
  deployment: Type.Union([Type.Integer(), Type.Null()]),
  url: Type.Union([Type.String(), Type.Null()]),
});

export const PutStackResponse = Type.Object({
  name: Type.String(),
  revision: Type.Integer(),
  deployment: Type.Record(Type.String(), Type.Integer(), { description: 'the deployment each changed service got, by berth’s service name' }),
  services: Type.Array(PlannedServiceDoc),
  warnings: Type.Array(Type.String()),
  removed: Type.Array(Type.String()),
  config: Type.Optional(Type.Unknown({ description: 'dry_run: the merged, interpolated compose file' })),
});

const StackServiceDoc = Type.Object({
  name: Type.String(),
  service: Type.String(),
  state: Type.String({ description: 'running, starting, deploying, stopped, completed, exited, crash-looping or not created' }),
  health: Type.String(),
  replicas: Type.Object({ desired: Type.Integer(), running: Type.Integer() }),
  url: Type.Union([Type.String(), Type.Null()]),
  image: Type.Union([Type.String(), Type.Null()]),
  ports: Type.Array(Type.String()),
  tasks: Type.Array(Type.Object({ name: Type.String(), status: Type.String(), health: Type.String(), created_at: Type.String() })),
  last_exit: Type.Union([Type.String(), Type.Null()]),
  last_exit_logs: Type.Array(Type.String(), { description: 'the last lines of its newest ended task, when it crash-loops or ended badly' }),
  deployment: Type.Union([Type.Object({ id: Type.Integer(), step: Type.String(), reason: Type.Union([Type.String(), Type.Null()]) }), Type.Null()]),
});

export const StackDoc = Type.Object({
  name: Type.String(),
  revision: Type.Integer(),
  status: Type.String(),
  services: Type.Array(StackServiceDoc),
  networks: Type.Array(Type.String()),
  volumes: Type.Array(Type.String()),
  created_at: Type.String(),
  updated_at: Type.String(),
});
export type StackDocT = Static<typeof StackDoc>;

export const StackSummaryDoc = Type.Object({
  name: Type.String(),
  revision: Type.Integer(),
  status: Type.String(),
  services: Type.Integer(),
  updated_at: Type.String(),
});

export const ResourceParams = Type.Object({ name: Name });
export const ResourceDoc = Type.Object({ name: Type.String(), created_at: Type.String(), used_by: Type.Array(Type.String()) });
