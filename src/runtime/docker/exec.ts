import type Docker from 'dockerode';
import { once } from 'node:events';
import { posix } from 'node:path';
import { Writable, type Duplex } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { pack } from 'tar-stream';
import { RuntimeUnavailableError } from '../../domain/errors.js';
import type { ExecOptions, ExecResult } from '../task-runtime.js';
import { engineCall } from './engine-errors.js';

const COLLECTED_MAX = 1024 * 1024;
const STDERR_KEPT = 8 * 1024;
/** How long the engine may take to report an exec as ended once its stream has closed. */
const EXIT_REPORT_MS = 10_000;

/** Commands run inside tasks, and files written into them. */
export class DockerExec {
  constructor(
    /** For request/answer calls. */
    private readonly docker: Docker,
    /** For the command's own stream, which may rightly stay open for hours (a large dump). */
    private readonly streams: Docker,
  ) {}

  async run(id: string, options: ExecOptions): Promise<ExecResult> {
    const short = id.slice(0, 12);
    const exec = await engineCall(`start a command in container ${short}`, () =>
      this.streams.getContainer(id).exec({
        Cmd: [...options.command],
        Env: [...(options.env ?? [])],
        AttachStdin: options.stdin !== undefined,
        AttachStdout: true,
        AttachStderr: true,
        Tty: false,
      }),
    );
    const stream = (await engineCall(`start a command in container ${short}`, () =>
      exec.start({ hijack: true, stdin: options.stdin !== undefined }),
    )) as unknown as Duplex;
    const onAbort = (): void => {
      stream.destroy(options.signal?.reason instanceof Error ? options.signal.reason : new Error('aborted'));
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    if (options.signal?.aborted) onAbort();
    const collected: Buffer[] = [];
    let collectedBytes = 0;
    let stderr = '';
    const stdout =
      options.stdout ??
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          if (collectedBytes < COLLECTED_MAX) collected.push(chunk.subarray(0, COLLECTED_MAX - collectedBytes));
          collectedBytes += chunk.length;
          done();
        },
      });
    try {
      const feeding = options.stdin ? pipeline(options.stdin, halfCloser(stream)) : Promise.resolve();
      await Promise.all([
        demultiplex(stream, stdout, (text) => {
          stderr = (stderr + text).slice(-STDERR_KEPT);
        }),
        feeding,
      ]);
      // The caller's stream learns the output is complete only once all of it is written.
      if (options.stdout) {
        options.stdout.end();
        await once(options.stdout, 'finish');
      }
    } catch (error) {
      stream.destroy();
      throw error instanceof RuntimeUnavailableError ? error : new RuntimeUnavailableError(`a command in container ${short} broke off: ${(error as Error).message}`, { cause: error });
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
    }
    return { exitCode: await exitCodeOf(this.docker.getExec(exec.id), short), stdout: Buffer.concat(collected).toString('utf8'), stderr };
  }

  /** A one-file tar archive, which the engine unpacks into the task's filesystem (its volumes included). */
  async copyInto(id: string, path: string, source: { readonly stream: NodeJS.ReadableStream; readonly size: number }): Promise<void> {
    const archive = pack();
    const entry = archive.entry({ name: posix.basename(path), size: source.size, mode: 0o644, uid: 0, gid: 0, mtime: new Date() });
    const writing = pipeline(source.stream, entry).then(() => archive.finalize());
    await engineCall(`copy ${path} into container ${id.slice(0, 12)}`, async () => {
      await Promise.all([this.streams.getContainer(id).putArchive(archive as unknown as NodeJS.ReadableStream, { path: posix.dirname(path) }), writing]);
    });
  }
}

/** The writable side of a hijacked connection, closed with a half-close so the command sees the end of its input. */
function halfCloser(stream: Duplex): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      if (stream.write(chunk)) done();
      else stream.once('drain', () => done());
    },
    final(done) {
      stream.end();
      done();
    },
  });
}

/**
 * The engine interleaves a non-TTY command's stdout and stderr in frames: an 8-byte header
 * (stream type, three zero bytes, big-endian length) then the payload. Payloads go on without
 * being copied, and the stream is read no faster than `stdout` takes them.
 */
async function demultiplex(stream: Duplex, stdout: Writable, onStderr: (text: string) => void): Promise<void> {
  let header = Buffer.alloc(0);
  let type = 0;
  let remaining = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    let offset = 0;
    while (offset < chunk.length) {
      if (remaining === 0) {
        const needed = 8 - header.length;
        header = Buffer.concat([header, chunk.subarray(offset, offset + needed)]);
        offset += Math.min(needed, chunk.length - offset);
        if (header.length < 8) break;
        type = header[0] ?? 0;
        remaining = header.readUInt32BE(4);
        header = Buffer.alloc(0);
        continue;
      }
      const payload = chunk.subarray(offset, offset + remaining);
      offset += payload.length;
      remaining -= payload.length;
      if (type === 2) onStderr(payload.toString('utf8'));
      else if (!stdout.write(payload)) await once(stdout, 'drain');
    }
  }
}

async function exitCodeOf(exec: Docker.Exec, short: string): Promise<number> {
  const deadline = Date.now() + EXIT_REPORT_MS;
  for (;;) {
    const info = await engineCall(`inspect a command in container ${short}`, () => exec.inspect());
    if (!info.Running && info.ExitCode !== null) return info.ExitCode;
    if (Date.now() >= deadline) throw new RuntimeUnavailableError(`a command in container ${short} closed its output but the engine still reports it running`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
