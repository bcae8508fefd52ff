import { Type, type Static } from '@sinclair/typebox';

/**
 * The API's request and response schemas: Fastify validates with them, the
 * OpenAPI document is generated from them, and the SDK's types are derived
 * from them, so the three cannot drift apart.
 */
export const ErrorBody = Type.Object(
  {
    Error: Type.String(),
    code: Type.Optional(Type.String()),
    problems: Type.Optional(
      Type.Array(
        Type.Object({ path: Type.String(), message: Type.String(), line: Type.Optional(Type.Integer()), file: Type.Optional(Type.String()) }),
        { description: 'BERTH_INVALID_COMPOSE: every problem of the compose files' },
      ),
    ),
  },
  { $id: 'Error', description: 'Every error answer' },
);

export const Link = Type.Object({ href: Type.String(), rel: Type.String() });

export const HealthCheckInput = Type.Object(
  {
    rel_path: Type.Optional(Type.String({ maxLength: 512, description: 'Probed under the context root' })),
    status_codes: Type.Optional(
      Type.Union([
        Type.String({ maxLength: 256, examples: ['200-299', '200,302'] }),
        Type.Array(Type.Union([Type.Integer(), Type.String({ maxLength: 16 })]), { maxItems: 32 }),
      ]),
    ),
    interval: Type.Optional(Type.Number({ description: 'Seconds between probes' })),
  },
  { additionalProperties: false },
);

export const CreateServiceBody = Type.Object(
  {
    name: Type.String({ maxLength: 256 }),
    health_check: Type.Optional(HealthCheckInput),
  },
  { additionalProperties: false },
);

export const ServiceSummary = Type.Object({ name: Type.String(), links: Type.Array(Link) });

export const EnvVar = Type.Object(
  { name: Type.String({ minLength: 1, maxLength: 256 }), value: Type.String({ maxLength: 65536 }) },
  { additionalProperties: false },
);

export const ServiceDefinitionBody = Type.Object(
  {
    'container-tag': Type.Optional(Type.String({ maxLength: 128 })),
    image: Type.Optional(Type.String({ maxLength: 512 })),
    'memory-reservation': Type.Integer({ description: 'MiB' }),
    'memory-limit': Type.Integer({ description: 'MiB' }),
    'container-port': Type.Integer(),
    environment: Type.Array(EnvVar, { maxItems: 512 }),
    replicas: Type.Optional(Type.Integer()),
    command: Type.Optional(Type.Array(Type.String({ maxLength: 4096 }), { maxItems: 128 })),
    'cpu-limit': Type.Optional(Type.Number({ description: 'CPU cores a task may use (default 1)' })),
    'pids-limit': Type.Optional(Type.Integer({ description: 'processes a task may have at once (default 512)' })),
    'cap-add': Type.Optional(
      Type.Array(Type.String({ maxLength: 32 }), {
        maxItems: 16,
        description: "capabilities a task gets back beyond berth's minimal set, from Docker's default set",
      }),
    ),
    node: Type.Optional(Type.String({ maxLength: 128, description: 'the node (host name or id) every task runs on; on Docker Swarm' })),
    constraints: Type.Optional(
      Type.Array(Type.String({ maxLength: 300 }), { maxItems: 16, description: "Swarm placement constraints such as 'node.labels.gpu==yes'" }),
    ),
    secrets: Type.Optional(Type.Array(EnvVar, { maxItems: 256, description: 'variables whose values are stored encrypted and never shown again' })),
    databases: Type.Optional(Type.Array(Type.String({ maxLength: 64 }), { maxItems: 8, description: "the project's databases whose URL and variables the tasks get" })),
    'colour-spread': Type.Optional(Type.Boolean({ description: "a colour's tasks run on other nodes than its service's other colours; on Docker Swarm" })),
  },
  { additionalProperties: false },
);

export const UpdateServiceResponse = Type.Object({
  name: Type.String(),
  revision: Type.Integer(),
  deployment: Type.Integer(),
  /** The colour deployed into; absent for a service without colours. */
  colour: Type.Optional(Type.String()),
});

export const DeleteServiceResponse = Type.Object({ name: Type.String(), status: Type.String(), colour: Type.Optional(Type.String()) });

export const TaskDefinitionDoc = Type.Object({
  name: Type.String(),
  revision: Type.Integer(),
  status: Type.String(),
  container_image: Type.String(),
  container_memory_reservation: Type.Integer(),
  container_memory_limit: Type.Integer(),
  container_port: Type.Integer(),
});

export const TaskDoc = Type.Object({
  task_name: Type.String(),
  created_at: Type.String(),
  desired_status: Type.String(),
  last_status: Type.String(),
  task_definition: TaskDefinitionDoc,
  /** The node it runs on, by name (NMPI's Node column). */
  node: Type.Optional(Type.String()),
  /** Why a pending task does not run yet, in the orchestrator's words. */
  waiting: Type.Optional(Type.String()),
});

/** `colour`: the colour an event is of, in a service with colours; absent for the service's own events. */
export const EventDoc = Type.Object({ created_at: Type.String(), message: Type.String(), colour: Type.Optional(Type.String()) });

export const TargetDoc = Type.Object({
  target: Type.String(),
  port: Type.Integer(),
  health: Type.Union([
    Type.Literal('initial'),
    Type.Literal('healthy'),
    Type.Literal('unhealthy'),
    Type.Literal('draining'),
    Type.Literal('unused'),
  ]),
  description: Type.Optional(Type.String()),
  task_name: Type.String(),
});

export const DeploymentDoc = Type.Object({
  id: Type.Integer(),
  revision: Type.Integer(),
  previous_revision: Type.Union([Type.Integer(), Type.Null()]),
  step: Type.String(),
  step_description: Type.String(),
  finished: Type.Boolean(),
  reason: Type.Union([Type.String(), Type.Null()]),
  created_at: Type.String(),
  step_started_at: Type.String(),
  finished_at: Type.Union([Type.String(), Type.Null()]),
  colour: Type.Optional(Type.String()),
});

const STATUS_FIELDS = {
  service_status: Type.String(),
  count_desired: Type.Integer(),
  count_running: Type.Integer(),
  count_pending: Type.Integer(),
  current_revision: Type.Union([Type.Integer(), Type.Null()]),
  crash_looping: Type.Boolean(),
  last_exit: Type.Union([Type.String(), Type.Null()]),
  /** The last lines of the most recently stopped task, while crash-looping. */
  last_exit_logs: Type.Array(Type.String()),
  tasks: Type.Array(TaskDoc),
  events: Type.Array(EventDoc),
  deployment: Type.Union([DeploymentDoc, Type.Null()]),
  target_health: Type.Object({
    health_check_path: Type.String(),
    interval: Type.Number(),
    status_codes: Type.String(),
    targets: Type.Array(TargetDoc),
  }),
};

/** One colour of a service with colours, in the same shape as a service's status. */
export const ColourStatusDoc = Type.Object({ colour: Type.String(), live: Type.Boolean(), ...STATUS_FIELDS });

/**
 * A service's status. With colours, the top-level fields are the live colour's (its tasks,
 * counts, deployment, target health), `events` are the service's and every colour's, and
 * `live_colour` and `colours` are added; without colours neither is there.
 */
export const StatusDoc = Type.Object({
  ...STATUS_FIELDS,
  live_colour: Type.Optional(Type.String()),
  colours: Type.Optional(Type.Array(ColourStatusDoc)),
});

export const ServiceDoc = Type.Object({ name: Type.String(), links: Type.Array(Link), status: StatusDoc });

export const LogsDoc = Type.Object({
  logs: Type.Array(
    Type.Object({
      stream_name: Type.String(),
      log_events: Type.Array(Type.Object({ time: Type.String(), message: Type.String() })),
    }),
  ),
});

export const DockerCredentialsDoc = Type.Object({
  repo_uri: Type.String(),
  proxy_endpoint: Type.String(),
  user: Type.String(),
  password: Type.String(),
  expires_at: Type.Optional(Type.String()),
});

export const ServiceQuery = Type.Object(
  {
    view: Type.Optional(Type.Union([Type.Literal('logs'), Type.Literal('docker'), Type.Literal('status')])),
    tail: Type.Optional(Type.String({ pattern: '^[0-9]{1,6}$' })),
    streams: Type.Optional(Type.String({ pattern: '^[0-9]{1,4}$' })),
    colour: Type.Optional(Type.String({ maxLength: 64, description: 'logs: of this colour (default: the live colour)' })),
  },
  { additionalProperties: false },
);

const COLOUR_PARAM = Type.Optional(Type.String({ maxLength: 64, description: 'a colour of the service (blue/green releases)' }));

export const LogStreamQuery = Type.Object(
  { tail: Type.Optional(Type.String({ pattern: '^[0-9]{1,6}$' })), colour: COLOUR_PARAM },
  { additionalProperties: false },
);

export const ColourQuery = Type.Object({ colour: COLOUR_PARAM }, { additionalProperties: false });

export const SwitchBody = Type.Object(
  {
    colour: Type.String({ maxLength: 64 }),
    force: Type.Optional(Type.Boolean({ description: 'switch even when the colour has no healthy task' })),
  },
  { additionalProperties: false },
);

export const SwitchResponse = Type.Object({
  name: Type.String(),
  live_colour: Type.String(),
  previous_colour: Type.String(),
  /** False when the colour was live already. */
  switched: Type.Boolean(),
  /** From the request to the gateway serving the colour (and the store recording it). */
  took_ms: Type.Number(),
});

export const ServiceParams = Type.Object({ name: Type.String({ maxLength: 256 }) });
export const DeploymentParams = Type.Object({
  name: Type.String({ maxLength: 256 }),
  id: Type.String({ pattern: '^[0-9]{1,12}$' }),
});

export const EventsQuery = Type.Object(
  {
    after: Type.Optional(Type.String({ pattern: '^[0-9]{1,15}$' })),
    limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,4}$' })),
    colour: COLOUR_PARAM,
  },
  { additionalProperties: false },
);
export const EventsDoc = Type.Object({
  events: Type.Array(
    Type.Object({
      id: Type.Integer(),
      created_at: Type.String(),
      message: Type.String(),
      deployment_id: Type.Union([Type.Integer(), Type.Null()]),
      colour: Type.Optional(Type.String()),
    }),
  ),
});

export const CreateProjectBody = Type.Object({ name: Type.String({ maxLength: 256 }) }, { additionalProperties: false });
export const CreateProjectResponse = Type.Object({ name: Type.String(), token: Type.String() });

export const AuditQuery = Type.Object(
  { limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,5}$' })) },
  { additionalProperties: false },
);
export const AuditDoc = Type.Object({
  entries: Type.Array(
    Type.Object({
      at: Type.String(),
      actor: Type.String(),
      action: Type.String(),
      target: Type.String(),
      detail: Type.Union([Type.String(), Type.Null()]),
    }),
  ),
});

export type AuditDocT = Static<typeof AuditDoc>;
export type CreateServiceBodyT = Static<typeof CreateServiceBody>;
export type ServiceDefinitionBodyT = Static<typeof ServiceDefinitionBody>;
export type ServiceSummaryT = Static<typeof ServiceSummary>;
export type ServiceDocT = Static<typeof ServiceDoc>;
export type StatusDocT = Static<typeof StatusDoc>;
export type ColourStatusDocT = Static<typeof ColourStatusDoc>;
export type SwitchResponseT = Static<typeof SwitchResponse>;
export type DeploymentDocT = Static<typeof DeploymentDoc>;
export type LogsDocT = Static<typeof LogsDoc>;
export type DockerCredentialsDocT = Static<typeof DockerCredentialsDoc>;
export type UpdateServiceResponseT = Static<typeof UpdateServiceResponse>;
export type DeleteServiceResponseT = Static<typeof DeleteServiceResponse>;
export type CreateProjectResponseT = Static<typeof CreateProjectResponse>;
export type EventsDocT = Static<typeof EventsDoc>;

export const RevisionDoc = Type.Object({
  number: Type.Integer(),
  status: Type.String(),
  created_at: Type.String(),
  image: Type.String(),
  replicas: Type.Integer(),
  memory_reservation: Type.Integer(),
  memory_limit: Type.Integer(),
  container_port: Type.Integer(),
  command: Type.Union([Type.Array(Type.String()), Type.Null()]),
  environment_names: Type.Array(Type.String(), { description: 'names only: values may be secrets' }),
  colour: Type.Optional(Type.String()),
});
