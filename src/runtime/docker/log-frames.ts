import type { LogLine } from '../task-runtime.js';

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
