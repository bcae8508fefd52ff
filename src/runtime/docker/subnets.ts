import { ConfigError } from '../../domain/errors.js';

/** An IPv4 range: its first address as a number, and how many addresses it holds. */
export interface Range {
  readonly start: number;
  readonly size: number;
}

export function parseCidr(text: string): Range | null {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(text.trim());
  if (!match) return null;
  const octets = match.slice(1, 5).map(Number);
  const bits = Number(match[5]);
  if (octets.some((o) => o > 255) || bits > 32) return null;
  const address = octets.reduce((n, o) => n * 256 + o, 0);
  const size = 2 ** (32 - bits);
  return { start: address - (address % size), size };
}

export function formatCidr(range: Range): string {
  const octets = [24, 16, 8, 0].map((shift) => Math.floor(range.start / 2 ** shift) % 256);
  return `${octets.join('.')}/${32 - Math.log2(range.size)}`;
}

export function overlaps(a: Range, b: Range): boolean {
  return a.start < b.start + b.size && b.start < a.start + a.size;
}

/** Each network gets a /22: 1021 addresses, room for the tasks of a large project. */
export const SUBNET_SIZE = 1024;

/** The pool project networks are carved from, checked where the server reads its flags. */
export function parsePool(text: string, flag: string): Range {
  const range = parseCidr(text);
  if (!range || range.size < SUBNET_SIZE || range.size > 2 ** 24) {
    throw new ConfigError(`--${flag} must be an IPv4 range from /8 to /22 such as 10.208.0.0/12, not '${text}'`);
  }
  return range;
}

/** The /22 subnets of the pool, in order, that overlap none of the taken ranges. */
export function* freeSubnets(pool: Range, taken: readonly Range[]): Generator<Range> {
  for (let start = pool.start; start < pool.start + pool.size; start += SUBNET_SIZE) {
    const candidate = { start, size: SUBNET_SIZE };
    if (!taken.some((range) => overlaps(range, candidate))) yield candidate;
  }
}
