import type { Static } from '@sinclair/typebox';
import type { EnvVar } from '../api/schemas.js';

export type EnvEntry = Static<typeof EnvVar>;

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A line of an env file that is not `NAME=VALUE`; `line` counts from 1. */
export class EnvFileError extends Error {
  readonly code = 'BERTH_ENV_FILE_INVALID';

  constructor(
    readonly line: number,
    message: string,
  ) {
    super(`line ${line}: ${message}`);
    this.name = 'EnvFileError';
  }
}

/**
 * Reads a `docker run --env-file` style file the way clfpy does: one
 * `NAME=VALUE` a line, blank lines and `#` comments skipped. On top of that a
 * value in matching single or double quotes loses them, and an `export `
 * prefix is accepted, so a file written for a shell works too.
 */
export function parseEnvFile(text: string): EnvEntry[] {
  const entries: EnvEntry[] = [];
  const seenOn = new Map<string, number>();
  text.split(/\r?\n/).forEach((raw, index) => {
    const lineNo = index + 1;
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const assignment = line.startsWith('export ') ? line.slice('export '.length).trimStart() : line;
    const eq = assignment.indexOf('=');
    if (eq < 0) throw new EnvFileError(lineNo, `expected NAME=VALUE, got '${clip(line)}'`);
    const name = assignment.slice(0, eq).trim();
    if (!NAME.test(name)) {
      throw new EnvFileError(lineNo, `'${clip(name)}' is not a variable name (letters, digits and '_', not starting with a digit)`);
    }
    const first = seenOn.get(name);
    // The server refuses a definition naming a variable twice; say where, while the line numbers are known.
    if (first !== undefined) throw new EnvFileError(lineNo, `'${name}' is already set on line ${first}`);
    seenOn.set(name, lineNo);
    entries.push({ name, value: unquote(assignment.slice(eq + 1).trim()) });
  });
  return entries;
}

function unquote(value: string): string {
  const quote = value[0];
  if (value.length >= 2 && (quote === '"' || quote === "'") && value.endsWith(quote)) return value.slice(1, -1);
  return value;
}

function clip(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}
