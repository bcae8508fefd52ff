import type { ComposeProblem } from './problems.js';

/**
 * Compose's variable interpolation of string values, as `docker compose` does it:
 * `$VAR`, `${VAR}`, `${VAR:-default}` (unset or empty), `${VAR-default}` (unset),
 * `${VAR:?message}` / `${VAR?message}` (an error when unset or empty / unset),
 * `${VAR:+alternative}` / `${VAR+alternative}`, and `$$` for a literal `$`. Defaults may
 * themselves hold variables. An unset variable without a default becomes the empty string,
 * as in compose.
 */
export function interpolate(text: string, env: Readonly<Record<string, string>>, path: string, problems: ComposeProblem[]): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c !== '$') {
      out += c;
      i++;
      continue;
    }
    const next = text[i + 1];
    if (next === '$') {
      out += '$';
      i += 2;
      continue;
    }
    if (next === '{') {
      const end = closingBrace(text, i + 2);
      if (end === -1) {
        problems.push({ path, message: `'${text}' has a '\${' without its closing '}'` });
        return text;
      }
      out += braced(text.slice(i + 2, end), env, path, problems);
      i = end + 1;
      continue;
    }
    const name = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i + 1))?.[0];
    if (!name) {
      problems.push({ path, message: `'${text}' has a '$' that names no variable; write '$$' for a literal '$'` });
      return text;
    }
    out += env[name] ?? '';
    i += 1 + name.length;
  }
  return out;
}

/** The end of `${…}`, counting nested braces in its default. */
function closingBrace(text: string, from: number): number {
  let depth = 1;
  for (let i = from; i < text.length; i++) {
    if (text[i] === '{') depth++;
    else if (text[i] === '}' && --depth === 0) return i;
  }
  return -1;
}

function braced(inner: string, env: Readonly<Record<string, string>>, path: string, problems: ComposeProblem[]): string {
  const match = /^([A-Za-z_][A-Za-z0-9_]*)(?:(:?)([-?+])([\s\S]*))?$/.exec(inner);
  if (!match) {
    problems.push({ path, message: `'\${${inner}}' is not a variable reference` });
    return '';
  }
  const [, name, colon, operator, rest = ''] = match as unknown as [string, string, string | undefined, string | undefined, string | undefined];
  const value = env[name];
  const set = value !== undefined && (colon !== ':' || value !== '');
  switch (operator) {
    case undefined:
      return value ?? '';
    case '-':
      return set ? (value as string) : interpolate(rest, env, path, problems);
    case '+':
      return set ? interpolate(rest, env, path, problems) : '';
    default: {
      if (set) return value as string;
      const message = interpolate(rest, env, path, problems);
      problems.push({ path, message: `required variable ${name} is ${value === undefined ? 'not set' : 'empty'}${message ? `: ${message}` : ''}` });
      return '';
    }
  }
}

/** The variables a text names (`$A`, `${B:-${C}}`), so that a client sends only those, not its whole environment. */
export function referencedVariables(text: string): Set<string> {
  const names = new Set<string>();
  for (const match of text.matchAll(/\$(?:\$|\{?([A-Za-z_][A-Za-z0-9_]*))/g)) if (match[1] !== undefined) names.add(match[1]);
  return names;
}
