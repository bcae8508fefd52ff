import type Docker from 'dockerode';
import type { Duplex } from 'node:stream';
import { PassThrough } from 'node:stream';
import type { ExecOptions, ExecSession, OutputChannel, TaskExec } from '../task-exec.js';
import { engineCall, wrapEngineError } from './engine-errors.js';
import { labelFilters } from './tasks.js';

/** `docker exec` through the engine's API: a hijacked connection carries stdin and the output. */
export class DockerExec implements TaskExec {
  constructor(
    private readonly docker: Docker,
    /** Sessions are long and quiet on purpose: no request timeout. */
    private readonly streams: Docker,
  ) {}

  async exec(labels: Readonly<Record<string, string>>, options: ExecOptions): Promise<ExecSession | null> {
    const running = await engineCall('list containers', () => this.docker.listContainers({ filters: { label: labelFilters(labels), status: ['running'] } }));
    const target = running[0];
    if (!target) return null;
    const container = this.streams.getContainer(target.Id);
    let stream: Duplex;
    let exec: Docker.Exec;
    try {
      exec = await container.exec({
        Cmd: [...options.command],
        AttachStdin: true,
        AttachStdout: true,
        AttachStderr: true,
        Tty: options.tty,
        ...(options.tty && options.columns && options.rows ? { ConsoleSize: [options.rows, options.columns] } : {}),
      });
      stream = (await exec.start({ hijack: true, stdin: true, Tty: options.tty })) as Duplex;
    } catch (error) {
      throw wrapEngineError(`exec in container ${target.Id.slice(0, 12)}`, error);
    }
    return new DockerExecSession(this.streams, exec, stream, options.tty);
  }
}

class DockerExecSession implements ExecSession {
  readonly done: Promise<number | null>;
  private readonly listeners: ((channel: OutputChannel, data: Buffer) => void)[] = [];

  constructor(
    docker: Docker,
    private readonly exec: Docker.Exec,
    private readonly stream: Duplex,
    tty: boolean,
  ) {
    const emit = (channel: OutputChannel) => (data: Buffer) => {
      for (const listener of this.listeners) listener(channel, data);
    };
    if (tty) {
      stream.on('data', emit(1));
    } else {
      // Without a TTY the engine frames stdout and stderr on one connection.
      const stdout = new PassThrough().on('data', emit(1));
      const stderr = new PassThrough().on('data', emit(2));
      docker.modem.demuxStream(stream, stdout, stderr);
    }
    this.done = new Promise((resolve) => {
      const finish = (): void => {
        this.exec.inspect().then(
          (info) => resolve(info.Running ? null : info.ExitCode),
          () => resolve(null),
        );
      };
      stream.once('end', finish);
      stream.once('close', finish);
    });
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
