import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type, type Static } from '@sinclair/typebox';
import type { WebSocket } from 'ws';
import { BadRequestError, FeatureUnavailableError, ServiceNotFoundError, TaskNotRunningError } from '../../domain/errors.js';
import type { ExecSession } from '../../runtime/task-exec.js';
import type { ApiDeps, ServiceExec } from '../ports.js';
import { ErrorBody, ServiceParams } from '../schemas.js';
import { actor } from './services.js';

const ExecQuery = Type.Object(
  {
    cmd: Type.Optional(Type.Union([Type.String({ maxLength: 4096 }), Type.Array(Type.String({ maxLength: 4096 }), { maxItems: 128 })], { description: 'the command and its arguments, one cmd= each (default: sh)' })),
    tty: Type.Optional(Type.Union([Type.Literal('true'), Type.Literal('false')])),
    task: Type.Optional(Type.String({ maxLength: 128, description: 'a task of the service (default: any running one)' })),
    cols: Type.Optional(Type.String({ maxLength: 5 })),
    rows: Type.Optional(Type.String({ maxLength: 5 })),
  },
  { additionalProperties: false },
);

interface Prepared {
  project: string;
  task: string | null;
  serviceId: number;
  service: string;
  command: string[];
  tty: boolean;
  columns?: number;
  rows?: number;
}

const PREPARED = Symbol('exec');

/**
 * `compose exec` over a WebSocket (`GET /services/<name>/exec`, upgraded): binary frames from
 * the client are the process's stdin; text frames are control (`{"resize":{"cols","rows"}}`,
 * `{"eof":true}`). The server sends binary frames whose first byte says the stream (1 stdout,
 * 2 stderr), then a text frame `{"exit_code":N}`, and closes. Only a task of the caller's
 * project's service is reached; everything is checked before the upgrade, so a refusal is a
 * plain HTTP error.
 */
export function execRoutes(deps: ApiDeps): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.get(
      '/services/:name/exec',
      {
        websocket: true,
        // OpenAPI has no WebSocket; docs/api.md describes the protocol.
        schema: { hide: true, tags: ['services'], summary: 'Run a command in a running task (WebSocket)', params: ServiceParams, querystring: ExecQuery, response: { 400: ErrorBody, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody, 501: ErrorBody } },
        preValidation: async (request) => {
          const project = deps.auth.requireProject(request);
          if (!deps.exec) throw new FeatureUnavailableError('This server cannot run commands in tasks');
          const { name } = request.params as Static<typeof ServiceParams>;
          const service = deps.store.services.find(project, name);
          if (!service) throw new ServiceNotFoundError(name.slice(0, 64));
          const query = request.query as Static<typeof ExecQuery>;
          const command = query.cmd === undefined ? ['sh'] : Array.isArray(query.cmd) ? query.cmd : [query.cmd];
          if (command.length === 0 || command[0] === '') throw new BadRequestError('cmd names no command');
          const size = (text: string | undefined) => (text === undefined ? undefined : Math.min(Math.max(Number(text) || 0, 1), 1000));
          (request as unknown as Record<symbol, Prepared>)[PREPARED] = {
            project,
            task: query.task ?? null,
            serviceId: service.id,
            service: service.name,
            command,
            tty: query.tty === 'true',
            ...(query.cols === undefined ? {} : { columns: size(query.cols) as number }),
            ...(query.rows === undefined ? {} : { rows: size(query.rows) as number }),
          };
          // Checked before the upgrade, for a plain 409; the session starts after it, so none is left behind.
          const running = (await deps.observer.tasks(service.id)).filter((t) => t.lastStatus === 'RUNNING' && (query.task === undefined || t.taskName === query.task));
          if (running.length === 0) throw new TaskNotRunningError(`No task of '${service.name}' is running${query.task ? ` as ${query.task}` : ''}`);
        },
      },
      async (socket, request) => {
        const prepared = (request as unknown as Record<symbol, Prepared>)[PREPARED] as Prepared;
        // What the client sends while the session starts is kept for it, in order.
        const early: [Buffer, boolean][] = [];
        const keep = (data: Buffer, isBinary: boolean): void => void early.push([data, isBinary]);
        socket.on('message', keep);
        deps.audit.record({ actor: actor(prepared.project, request.ip), action: 'service.exec', target: `${prepared.project}/${prepared.service}`, detail: prepared.command.join(' ').slice(0, 200) });
        let session: ExecSession | null;
        try {
          session = await (deps.exec as ServiceExec).exec(prepared.project, prepared.serviceId, prepared.task, { command: prepared.command, tty: prepared.tty });
        } catch (error) {
          request.log.warn({ err: error }, 'exec failed');
          socket.close(1011, (error as Error).message.slice(0, 120));
          return;
        }
        if (!session) return socket.close(1011, 'the task stopped');
        socket.off('message', keep);
        // Gone while the session started: it goes too.
        if (socket.readyState !== socket.OPEN) return session.close();
        relay(socket, session, prepared, early);
      },
    );
  };
}

function relay(socket: WebSocket, session: ExecSession, prepared: Prepared, early: readonly [Buffer, boolean][]): void {
  if (prepared.tty && prepared.columns && prepared.rows) void session.resize(prepared.columns, prepared.rows).catch(() => undefined);
  session.onOutput((channel, data) => {
    if (socket.readyState === socket.OPEN) socket.send(Buffer.concat([Buffer.from([channel]), data]));
  });
  const receive = (data: Buffer, isBinary: boolean): void => {
    if (isBinary) return session.write(data);
    let control: { resize?: { cols?: number; rows?: number }; eof?: boolean };
    try {
      control = JSON.parse(data.toString()) as typeof control;
    } catch {
      return socket.close(1003, 'control frames are JSON');
    }
    if (control.eof) session.closeStdin();
    const { cols, rows } = control.resize ?? {};
    if (typeof cols === 'number' && typeof rows === 'number' && cols > 0 && rows > 0) void session.resize(cols, rows).catch(() => undefined);
  };
  for (const [data, isBinary] of early) receive(data, isBinary);
  socket.on('message', receive);
  // The client went away: the session goes with it.
  socket.on('close', () => session.close());
  void session.done.then((code) => {
    if (socket.readyState !== socket.OPEN) return;
    socket.send(JSON.stringify({ exit_code: code }));
    socket.close(1000, 'exited');
  });
}
