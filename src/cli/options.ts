import { InvalidArgumentError } from 'commander';
import { MAX_MEMORY_MIB, MAX_REPLICAS, MIN_MEMORY_MIB } from '../domain/definition.js';

/** Commander argument parsers: a bad value is a usage error (exit 2) naming the option. */
export function integerIn(min: number, max: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`expected a whole number from ${min} to ${max}`);
    }
    return n;
  };
}

export function positiveNumber(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a number greater than 0');
  return n;
}

/** For repeatable options: `--env A=1 --env B=2`. */
export function collect(value: string, previous: readonly string[] = []): string[] {
  return [...previous, value];
}

/** The server's bounds, checked while parsing so a bad flag is a usage error before any request. */
export const LIMITS = {
  minMemoryMiB: MIN_MEMORY_MIB,
  maxMemoryMiB: MAX_MEMORY_MIB,
  port: 65535,
  replicas: MAX_REPLICAS,
  tail: 5000,
  streams: 50,
  events: 1000,
  commandWords: 128,
} as const;
