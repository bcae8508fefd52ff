import type Docker from 'dockerode';
import { once } from 'node:events';
import { Writable, type Duplex } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { RuntimeUnavailableError } from '../../domain/errors.js';
import type { CommandOptions, CommandResult, ExecOptions, ExecSession, OutputChannel, TaskExec } from '../task-exec.js';
import { engineCall, wrapEngineError } from './engine-errors.js';
import { labelFilters } from './tasks.js';

const COLLECTED_MAX = 1024 * 1024;
const STDERR_KEPT = 8 * 1024;
/** How long the engine may take to report an exec as ended once its stream has closed. */
const EXIT_REPORT_MS = 10_000;

interface Started {
  readonly exec: Docker.Exec;
  /** The hijacked connection: stdin one way, the (framed, without a TTY) output the other. */
  readonly stream: Duplex;
}

/** `docker exec` through the engine's API: a hijacked connection carries stdin and the output. */
export class DockerExec implements TaskExec {
  constructor(
    private readonly docker: Docker,
    /** For the command's own stream, which may rightly stay open for hours (a session, a large dump): no request timeout. */
    private readonly streams: Docker,
  ) {}

  async exec(labels: Readonly<Record<string, string>>, options: ExecOptions): Promise<ExecSession | null> {
    const running = await engineCall('list containers', () => this.docker.listContainers({ filters: { label: labelFilters(labels), status: ['running'] } }));
    const target = running[0];
    if (!target) return null;
    const started = await this.start(target.Id, {
      Cmd: [...options.command],
      AttachStdin: true,
      Tty: options.tty,
      ...(options.tty && options.columns && options.rows ? { ConsoleSize: [options.rows, options.columns] } : {}),
    });
    return new DockerExecSession(started, options.tty);
  }

  async run(id: string, options: CommandOptions): Promise<CommandResult> {
    const short = id.slice(0, 12);
    const { exec, stream } = await this.start(id, { Cmd: [...options.command], Env: [...(options.env ?? [])], AttachStdin: options.stdin !== undefined, Tty: false });
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
    return { exitCode: await exitCodeOf(exec, short), stdout: Buffer.concat(collected).toString('utf8'), stderr };
  }

  private async start(id: string, spec: Docker.ExecCreateOptions): Promise<Started> {
    try {
      const exec = await this.streams.getContainer(id).exec({ AttachStdout: true, AttachStderr: true, ...spec });
      const stream = (await exec.start({ hijack: true, stdin: spec.AttachStdin === true, Tty: spec.Tty === true })) as unknown as Duplex;
      return { exec, stream };
    } catch (error) {
      throw wrapEngineError(`exec in container ${id.slice(0, 12)}`, error);
    }
  }
}

class DockerExecSession implements ExecSession {
  readonly done: Promise<number | null>;
  private readonly exec: Docker.Exec;
  private readonly stream: Duplex;
  private readonly listeners: ((channel: OutputChannel, data: Buffer) => void)[] = [];

  constructor(started: Started, tty: boolean) {
    const { exec, stream } = started;
    this.exec = exec;
    this.stream = stream;
    const emit = (channel: OutputChannel, data: Buffer): void => {
      for (const listener of this.listeners) listener(channel, data);
    };
    const output = tty
      ? (async () => {
          for await (const chunk of stream as AsyncIterable<Buffer>) emit(1, chunk);
        })()
      : demultiplex(stream, listenerStream((data) => emit(1, data)), (_text, data) => emit(2, data));
    // A session closed from this side ends while its process may run on: that is no exit code.
    this.done = output
      .catch(() => undefined)
      .then(() => exec.inspect())
      .then(
        (info) => (info.Running ? null : info.ExitCode),
        () => null,
      );
  }

  write(data: Buffer): void {
    this.stream.write(data);
  }

  closeStdin(): void {
    // Half-close: the process reads the end of its input and may still write.
    this.stream.end();
  }

  async resize(columns: number, rows: number): Promise<void> {
    await this.exec.resize({ w: columns, h: rows });
  }

  onOutput(listener: (channel: OutputChannel, data: Buffer) => void): void {
    this.listeners.push(listener);
  }

  close(): void {
    this.stream.destroy();
  }
}

function listenerStream(onData: (data: Buffer) => void): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      onData(chunk);
      done();
    },
  });
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
async function demultiplex(stream: Duplex, stdout: Writable, onStderr: (text: string, data: Buffer) => void): Promise<void> {
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
      if (type === 2) onStderr(payload.toString('utf8'), payload);
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
