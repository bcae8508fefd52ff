/** A sample's centre and spread: what every figure in the report is made of. */
export interface Spread {
  readonly n: number;
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly p25: number;
  readonly p75: number;
}

/** The q-quantile (0..1) of values, by linear interpolation between the closest ranks. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const position = (sorted.length - 1) * Math.min(1, Math.max(0, q));
  const lower = Math.floor(position);
  const upper = Math.ceil(position);
  const low = sorted[lower] as number;
  const high = sorted[upper] as number;
  return low + (high - low) * (position - lower);
}

export function median(values: readonly number[]): number {
  return quantile(values, 0.5);
}

/** p in percent: percentile(xs, 99) is the 99th percentile. */
export function percentile(values: readonly number[], p: number): number {
  return quantile(values, p / 100);
}

export function spread(values: readonly number[]): Spread {
  return {
    n: values.length,
    median: median(values),
    min: values.length === 0 ? Number.NaN : Math.min(...values),
    max: values.length === 0 ? Number.NaN : Math.max(...values),
    p25: quantile(values, 0.25),
    p75: quantile(values, 0.75),
  };
}

/** Pairs a[i] with b[i] (measured in the same round) and applies fn to each pair. */
export function paired(a: readonly number[], b: readonly number[], fn: (x: number, y: number) => number): number[] {
  const n = Math.min(a.length, b.length);
  return Array.from({ length: n }, (_, i) => fn(a[i] as number, b[i] as number));
}

/** Growth exponent k in value ∝ n^k between two sizes: 1 is linear, below 1 sub-linear. */
export function growthExponent(v1: number, n1: number, v2: number, n2: number): number {
  return Math.log(v2 / v1) / Math.log(n2 / n1);
}
