import { Type, type Static } from '@sinclair/typebox';

export const NodeDoc = Type.Object({
  id: Type.String(),
  name: Type.String({ description: 'its host name, or the name given to it in Swarm' }),
  address: Type.String({ description: 'where the other nodes and the gateway reach it' }),
  role: Type.Union([Type.Literal('manager'), Type.Literal('worker')]),
  leader: Type.Boolean(),
  status: Type.String({ description: 'ready, down, unknown or disconnected' }),
  availability: Type.Union([Type.Literal('active'), Type.Literal('pause'), Type.Literal('drain'), Type.Literal('draining')], {
    description: 'draining: berth is moving its tasks away, then Swarm drains it',
  }),
  memory_total: Type.Integer({ description: 'MiB' }),
  memory_reserved: Type.Integer({ description: "MiB reserved by berth's live tasks on it" }),
  tasks: Type.Integer({ description: "berth's live tasks on it" }),
  cpus: Type.Number(),
  labels: Type.Record(Type.String(), Type.String()),
  engine_version: Type.String(),
});

export const NodesDoc = Type.Object({
  orchestrator: Type.Union([Type.Literal('swarm'), Type.Literal('engine')]),
  nodes: Type.Array(NodeDoc),
});

export const NodeParams = Type.Object({ name: Type.String({ minLength: 1, maxLength: 128 }) });

export const JoinCommandQuery = Type.Object({ role: Type.Optional(Type.Union([Type.Literal('worker'), Type.Literal('manager')])) });

export const JoinCommandDoc = Type.Object({ role: Type.String(), command: Type.String() });

export const NodeLabelsBody = Type.Object(
  {
    labels: Type.Record(Type.String({ maxLength: 128 }), Type.Union([Type.String({ maxLength: 256 }), Type.Null()]), {
      description: 'labels to set; a null value removes the label',
    }),
  },
  { additionalProperties: false },
);

export const NodeRemoveQuery = Type.Object({ force: Type.Optional(Type.Union([Type.Literal('true'), Type.Literal('false')])) });

export type NodeDocT = Static<typeof NodeDoc>;
