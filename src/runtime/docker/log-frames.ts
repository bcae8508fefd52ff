import type { Readable } from 'node:stream';
import type { LogLine } from '../task-runtime.js';
import { statusOf, wrapEngineError } from './engine-errors.js';

/**
 * The engine multiplexes stdout and stderr of a non-TTY container into frames:
 * an 8-byte header (stream type, 3 zero bytes, big-endian length) then the payload.
 * Returns the complete payloads and the bytes of an unfinished frame.
 */
export function splitFrames(buffer: Buffer): { payloads: Buffer[]; rest: Buffer } {
  const payloads: Buffer[] = [];
  let offset = 0;
  while (buffer.length - offset >= 8) {
    const length = buffer.readUInt32BE(offset + 4);
    if (buffer.length - offset - 8 < length) break;
    payloads.push(buffer.subarray(offset + 8, offset + 8 + length));
    offset += 8 + length;
  }
  return { payloads, rest: buffer.subarray(offset) };
}

/** A line written with `timestamps: true`: "2026-11-22T06:11:05.123456789Z message". */
export function parseTimestampedLine(line: string): LogLine | null {
  const space = line.indexOf(' ');
  const stamp = space === -1 ? line : line.slice(0, space);
  const time = new Date(stamp);
  if (Number.isNaN(time.getTime())) return null;
  return { time, message: space === -1 ? '' : line.slice(space + 1) };
}

/** Parses whole log output (frames of timestamped lines) into lines, oldest first. */
export function parseLogOutput(buffer: Buffer): LogLine[] {
  const { payloads } = splitFrames(buffer);
  return linesOf(Buffer.concat(payloads).toString('utf8'));
}

export function linesOf(text: string): LogLine[] {
  const lines: LogLine[] = [];
  for (const raw of text.split('\n')) {
    if (raw === '') continue;
    const line = parseTimestampedLine(raw.replace(/\r$/, ''));
    if (line) lines.push(line);
  }
  return lines;
}

/**
 * Reads a followed log stream of frames to its end, handing over each whole line; the stream
 * is destroyed when `signal` aborts, which is not an error. `what` names it in an error.
 */
export async function readFollowedLines(stream: Readable, signal: AbortSignal, onLine: (line: LogLine) => void, what: string): Promise<void> {
  let pending: Buffer = Buffer.alloc(0);
  let partial = '';
  const onAbort = (): void => {
    stream.destroy();
  };
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    for await (const chunk of stream) {
      const { payloads, rest } = splitFrames(Buffer.concat([pending, chunk as Buffer]));
      pending = rest;
      const text = partial + Buffer.concat(payloads).toString('utf8');
      const cut = text.lastIndexOf('\n');
      partial = text.slice(cut + 1);
      for (const line of linesOf(text.slice(0, cut + 1))) onLine(line);
    }
  } catch (error) {
    if (!signal.aborted) throw wrapEngineError(what, error);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

/** The engine's options for a container's or a service's last lines. */
export function logOptions(options: { tail: number; since?: Date }): { stdout: true; stderr: true; timestamps: true; tail: number; follow: false; since?: number } {
  return {
    stdout: true,
    stderr: true,
    timestamps: true,
    tail: options.tail,
    follow: false,
    ...(options.since ? { since: Math.floor(options.since.getTime() / 1000) } : {}),
  };
}

/** The lines a logs call answers; a container or service that no longer exists has none. */
export async function readLogOutput(read: () => Promise<unknown>, what: string): Promise<LogLine[]> {
  try {
    return parseLogOutput((await read()) as Buffer);
  } catch (error) {
    if (statusOf(error) === 404) return [];
    throw wrapEngineError(what, error);
  }
}
