import type { CliContext, OutputStream } from './context.js';

export type Paint = (text: string) => string;

/** ANSI colours, or identity functions when colour is off. */
export interface Style {
  readonly bold: Paint;
  readonly dim: Paint;
  readonly red: Paint;
  readonly green: Paint;
  readonly yellow: Paint;
  readonly cyan: Paint;
  readonly magenta: Paint;
  readonly blue: Paint;
}

const plain: Paint = (text) => text;
const sgr =
  (open: number, close: number): Paint =>
  (text) =>
    `\x1b[${open}m${text}\x1b[${close}m`;

/** Colour only for a person at a terminal, and never when NO_COLOR is set (https://no-color.org). */
export function styleFor(ctx: CliContext, stream: OutputStream = ctx.stdout): Style {
  const on = Boolean(stream.isTTY) && ctx.env.NO_COLOR === undefined;
  if (!on) return { bold: plain, dim: plain, red: plain, green: plain, yellow: plain, cyan: plain, magenta: plain, blue: plain };
  return { bold: sgr(1, 22), dim: sgr(2, 22), red: sgr(31, 39), green: sgr(32, 39), yellow: sgr(33, 39), cyan: sgr(36, 39), magenta: sgr(35, 39), blue: sgr(34, 39) };
}

export function printJson(stream: OutputStream, value: unknown): void {
  stream.write(`${JSON.stringify(value, null, 2)}\n`);
}

/**
 * Left-aligned columns two spaces apart, headers in bold. Widths come from
 * the plain text, so `paint(column, text)` may add colour without skewing them.
 */
export function table(headers: readonly string[], rows: readonly (readonly string[])[], style: Style, paint?: (column: number, text: string) => string): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[], colour: (i: number, text: string) => string): string =>
    cells
      .map((cell, i) => {
        const padded = i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0);
        return colour(i, padded);
      })
      .join('  ')
      .trimEnd();
  return [line(headers, (_i, text) => style.bold(text)), ...rows.map((r) => line(r, paint ?? ((_i, text) => text)))].join('\n') + '\n';
}

/** `2024-05-01T12:03:04.123Z` → `2024-05-01 12:03:04` (UTC, as the server sends it). */
export function shortTime(iso: string): string {
  return iso.replace('T', ' ').replace(/\.\d+Z$|Z$/, '');
}

/** Green when things are well, yellow while they change, red when they are not. */
export function paintState(style: Style, state: string): string {
  const text = state.trim();
  if (/^(ACTIVE|RUNNING|healthy|succeeded)$/.test(text)) return state.replace(text, style.green(text));
  if (/^(failed|unhealthy|STOPPED|cancelled|timed-out|crash-looping)$/i.test(text) || text.includes('crash')) return state.replace(text, style.red(text));
  if (text === '' || text === '-') return state;
  return state.replace(text, style.yellow(text));
}

/** The "Example" section every command's --help ends with. */
export function examples(...lines: string[]): string {
  return `\nExample${lines.length > 1 ? 's' : ''}:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n`;
}
