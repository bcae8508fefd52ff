import { PassThrough } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { LogLine } from '../domain/observed.js';

/** What follows some output: sends each line to `onLine` until `signal` aborts or there is no more. */
export type Follow = (options: { signal: AbortSignal; onLine: (stream: string, line: LogLine) => void }) => Promise<void>;

/**
 * Answers with NDJSON lines `{stream_name, time, message}` as `follow` finds them, until the
 * client disconnects or `follow` ends; a failure to follow ends the stream and is logged.
 */
export function sendLogStream(request: FastifyRequest, reply: FastifyReply, follow: Follow, what: string): FastifyReply {
  const controller = new AbortController();
  const out = new PassThrough();
  request.raw.on('close', () => controller.abort());
  out.on('close', () => controller.abort());
  follow({
    signal: controller.signal,
    onLine: (stream, line) => out.write(`${JSON.stringify({ stream_name: stream, time: line.time.toISOString(), message: line.message })}\n`),
  })
    .catch((error: unknown) => request.log.error({ err: error }, `following ${what} failed`))
    .finally(() => out.end());
  return reply.type('application/x-ndjson').send(out);
}
