import { mkdir } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { BerthClient } from '../client/index.js';
import { readFileIfExists, writeFileAtomic } from '../fs/atomic-file.js';
import type { CliContext } from './context.js';
import { CliError, EXIT_USAGE } from './errors.js';

/** What `berth login` stores. */
export interface Connection {
  readonly url: string;
  readonly token: string;
}

type Env = CliContext['env'];

/** `$XDG_CONFIG_HOME/berth/config.json`, `~/.config/berth/config.json` without it (the XDG default). */
export function configPath(env: Env): string {
  const base = env.XDG_CONFIG_HOME && env.XDG_CONFIG_HOME !== '' ? env.XDG_CONFIG_HOME : join(env.HOME ?? homedir(), '.config');
  return join(base, 'berth', 'config.json');
}

/** Written through a temp file and a rename, mode 0600: the token is a secret and a crash must not leave half a file. */
export async function saveConnection(file: string, connection: Connection): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  await writeFileAtomic(file, `${JSON.stringify({ url: connection.url, token: connection.token }, null, 2)}\n`, 0o600);
}

export async function loadConnection(file: string): Promise<Partial<Connection>> {
  const text = await readFileIfExists(file);
  if (text === null) return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new CliError('BERTH_CONFIG_INVALID', `${file} is not valid JSON (${(error as Error).message}); run 'berth login' again`, EXIT_USAGE);
  }
  const { url, token } = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  return { ...(typeof url === 'string' ? { url } : {}), ...(typeof token === 'string' ? { token } : {}) };
}

/** BERTH_URL and BERTH_TOKEN override what `berth login` stored, one by one. */
export async function resolveConnection(env: Env): Promise<Connection> {
  const stored = await loadConnection(configPath(env));
  const url = nonEmpty(env.BERTH_URL) ?? stored.url;
  const token = nonEmpty(env.BERTH_TOKEN) ?? stored.token;
  if (url === undefined || token === undefined) {
    throw new CliError(
      'BERTH_NOT_LOGGED_IN',
      `No ${url === undefined ? 'server URL' : 'token'} configured: run 'berth login --url URL --token TOKEN' or set BERTH_URL and BERTH_TOKEN`,
      EXIT_USAGE,
    );
  }
  return { url, token };
}

export async function connect(ctx: CliContext): Promise<BerthClient> {
  return new BerthClient(await resolveConnection(ctx.env));
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}
