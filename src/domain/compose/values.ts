import type { ComposeProblem } from './problems.js';

/**
 * Readers of compose's value forms: sizes ("512m"), durations ("1m30s"), key=value lists or
 * mappings, commands as a string or a list. Each records a problem at its path instead of
 * throwing, so that every problem in a file is reported at once.
 */
export class Values {
  constructor(readonly problems: ComposeProblem[]) {}

  problem(path: string, message: string): void {
    this.problems.push({ path, message });
  }

  /** Bytes from `512m`, `1g`, `64M`, `1073741824` (a number is bytes), as MiB rounded up. */
  sizeMiB(value: unknown, path: string): number | null {
    if (value === undefined || value === null) return null;
    const match = /^(\d+(?:\.\d+)?)\s*([bkmgt]?)b?$/i.exec(String(value).trim());
    if (!match) {
      this.problem(path, `'${String(value)}' is not a size such as 512m or 1g`);
      return null;
    }
    const factor = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[(match[2] ?? '').toLowerCase()] ?? 1;
    return Math.ceil((Number(match[1]) * factor) / 1024 ** 2);
  }

  /** Seconds from a Go duration (`1m30s`, `500ms`) or a number of seconds. */
  seconds(value: unknown, path: string): number | null {
    if (value === undefined || value === null) return null;
    if (typeof value === 'number') return value;
    const text = String(value).trim();
    const units: Record<string, number> = { ns: 1e-9, us: 1e-6, µs: 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 };
    let total = 0;
    let rest = text;
    while (rest.length > 0) {
      const match = /^(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/.exec(rest);
      if (!match) {
        this.problem(path, `'${text}' is not a duration such as 30s or 1m30s`);
        return null;
      }
      total += Number(match[1]) * (units[match[2] as string] ?? 1);
      rest = rest.slice(match[0].length);
    }
    return total;
  }

  /** A command or entrypoint: a list as is, a string split the way a shell would split it (without expansion). */
  command(value: unknown): string[] | null {
    if (value === undefined || value === null) return null;
    if (Array.isArray(value)) return value.map(String);
    return shellWords(String(value));
  }

  /** `['A=1', 'B']` or `{A: 1, B: null}`: entries in order; a name without a value is null. */
  keyValues(value: unknown): [string, string | null][] {
    if (value === undefined || value === null) return [];
    if (Array.isArray(value)) {
      return value.map((entry) => {
        const text = String(entry);
        const eq = text.indexOf('=');
        return eq === -1 ? [text, null] : [text.slice(0, eq), text.slice(eq + 1)];
      });
    }
    return Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, v === null || v === undefined ? null : String(v)]);
  }

  /** A string or a list of strings, as a list. */
  list(value: unknown): string[] {
    if (value === undefined || value === null) return [];
    return Array.isArray(value) ? value.map(String) : [String(value)];
  }
}

/** Splits like a POSIX shell: whitespace, single and double quotes, backslash escapes; nothing expanded. */
export function shellWords(text: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (quote === "'") {
      if (c === "'") quote = null;
      else word += c;
    } else if (quote === '"') {
      if (c === '"') quote = null;
      else if (c === '\\' && i + 1 < text.length && '"\\$`'.includes(text[i + 1] as string)) word += text[++i];
      else word += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      inWord = true;
    } else if (c === '\\' && i + 1 < text.length) {
      word += text[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (inWord) words.push(word);
  return words;
}
