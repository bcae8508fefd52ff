import { BerthApiError, BerthUnreachableError } from './errors.js';

export interface ExecRequest {
  readonly command: readonly string[];
  readonly tty: boolean;
  readonly columns?: number;
  readonly rows?: number;
  /** A task of the service; default any running one. */
  readonly task?: string;
}

/** A command running in a task: write its stdin, read its output, learn its exit code. */
export interface ExecConnection {
  write(data: Buffer): void;
  /** The process reads the end of its stdin. */
  end(): void;
  resize(columns: number, rows: number): void;
  /** Resolves with the exit code (null when the server could not tell) once the command has ended. */
  readonly exited: Promise<number | null>;
}

/**
 * `GET /services/<name>/exec` as a WebSocket (docs/api.md): output arrives through `onOutput`
 * (1 stdout, 2 stderr). A refusal before the upgrade (404, 409…) rejects with BerthApiError.
 * `ws` is loaded here, not with the client: every CLI command would pay for it at start.
 */
export async function execInService(
  base: string,
  token: string,
  service: string,
  request: ExecRequest,
  onOutput: (channel: 1 | 2, data: Buffer) => void,
): Promise<ExecConnection> {
  const url = new URL(`${base.replace(/^http/, 'ws')}/services/${encodeURIComponent(service)}/exec`);
  for (const word of request.command) url.searchParams.append('cmd', word);
  url.searchParams.set('tty', String(request.tty));
  if (request.columns) url.searchParams.set('cols', String(request.columns));
  if (request.rows) url.searchParams.set('rows', String(request.rows));
  if (request.task) url.searchParams.set('task', request.task);
  const { default: WebSocket } = await import('ws');
  const socket = new WebSocket(url, { headers: { 'x-auth-token': token } });
  return new Promise((resolve, reject) => {
    let exitCode: number | null = null;
    const exited = new Promise<number | null>((done, fail) => {
      socket.on('message', (data: Buffer, isBinary: boolean) => {
        if (isBinary) onOutput(data[0] === 2 ? 2 : 1, data.subarray(1));
        else exitCode = (JSON.parse(data.toString()) as { exit_code: number | null }).exit_code;
      });
      socket.on('close', (code, reason) => {
        if (code === 1000) done(exitCode);
        else fail(new BerthUnreachableError(base, new Error(`the exec session ended: ${reason.toString() || `close code ${code}`}`)));
      });
    });
    exited.catch(() => undefined);
    socket.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => {
        const parsed = safeJson(body);
        reject(new BerthApiError(res.statusCode ?? 500, parsed?.code, parsed?.Error ?? `HTTP ${res.statusCode}`));
      });
    });
    socket.on('error', (error) => reject(new BerthUnreachableError(base, error)));
    socket.on('open', () =>
      resolve({
        write: (data) => socket.send(data, { binary: true }),
        end: () => socket.send(JSON.stringify({ eof: true })),
        resize: (columns, rows) => socket.send(JSON.stringify({ resize: { cols: columns, rows } })),
        exited,
      }),
    );
  });
}

function safeJson(text: string): { Error?: string; code?: string } | null {
  try {
    return JSON.parse(text) as { Error?: string; code?: string };
  } catch {
    return null;
  }
}
