import { spread, type Spread } from './stats.js';

/**
 * What a figure is judged against. Ratios compare the figure with its baseline measured
 * in the same run; `diff-max` compares a difference (berth minus baseline) in the unit.
 */
export type Goal =
  | { readonly kind: 'ratio-max'; readonly limit: number; readonly label?: string }
  | { readonly kind: 'ratio-min'; readonly limit: number; readonly label?: string }
  | { readonly kind: 'diff-max'; readonly limit: number }
  | { readonly kind: 'value-max'; readonly limit: number }
  | { readonly kind: 'info' };

export type Verdict = 'pass' | 'miss' | 'info';

export interface FigureInput {
  readonly bench: string;
  readonly name: string;
  readonly unit: string;
  /** One value per run (several runs), or a single total. */
  readonly values: readonly number[];
  readonly baseline?: readonly number[];
  /** Per-run comparisons with the baseline (ratio or difference); default: from the medians. */
  readonly comparisons?: readonly number[];
  /** Whether comparisons are ratios (default) or differences in the unit; diff-max goals imply differences. */
  readonly compare?: 'ratio' | 'diff';
  readonly goal: Goal;
  readonly note?: string;
}

export interface Figure extends FigureInput {
  readonly value: Spread;
  readonly baselineSpread: Spread | null;
  /** Median ratio (or difference, for diff-max) with its spread over runs. */
  readonly comparison: Spread | null;
  readonly verdict: Verdict;
}

export function makeFigure(input: FigureInput): Figure {
  const value = spread(input.values);
  const baselineSpread = input.baseline && input.baseline.length > 0 ? spread(input.baseline) : null;
  const isDiff = isDifference(input);
  let comparisons = input.comparisons;
  if (!comparisons && baselineSpread) {
    comparisons = [isDiff ? value.median - baselineSpread.median : value.median / baselineSpread.median];
  }
  const comparison = comparisons && comparisons.length > 0 ? spread(comparisons) : null;
  return { ...input, value, baselineSpread, comparison, verdict: judge(input.goal, value, comparison) };
}

function judge(goal: Goal, value: Spread, comparison: Spread | null): Verdict {
  switch (goal.kind) {
    case 'info':
      return 'info';
    case 'value-max':
      return value.max <= goal.limit ? 'pass' : 'miss';
    case 'ratio-max':
    case 'diff-max':
      if (!comparison || Number.isNaN(comparison.median)) return 'miss';
      return comparison.median <= goal.limit ? 'pass' : 'miss';
    case 'ratio-min':
      if (!comparison || Number.isNaN(comparison.median)) return 'miss';
      return comparison.median >= goal.limit ? 'pass' : 'miss';
  }
}

function isDifference(input: FigureInput): boolean {
  return input.goal.kind === 'diff-max' || input.compare === 'diff';
}

export const TABLE_HEADERS = ['bench', 'figure', 'value', 'baseline', 'ratio', 'goal', 'pass/miss'] as const;

export function figureRow(f: Figure): string[] {
  const isDiff = isDifference(f);
  return [
    f.bench,
    f.name,
    f.goal.kind === 'value-max' ? formatTotal(f) : formatSpread(f.value, f.unit),
    f.baselineSpread ? formatSpread(f.baselineSpread, f.unit) : '—',
    f.comparison ? formatComparison(f.comparison, isDiff ? f.unit : '') : '—',
    formatGoal(f.goal, f.unit),
    f.verdict,
  ];
}

export function formatGoal(goal: Goal, unit: string): string {
  switch (goal.kind) {
    case 'info':
      return 'info';
    case 'ratio-max':
      return goal.label ?? `≤ ${goal.limit}`;
    case 'ratio-min':
      return goal.label ?? `≥ ${goal.limit}`;
    case 'diff-max':
      return `≤ +${goal.limit} ${unit}`;
    case 'value-max':
      return `≤ ${goal.limit}${unit === 'requests' ? '' : ` ${unit}`}`;
  }
}

/** Counts (failed requests): the total over all runs, and how many runs. */
function formatTotal(f: Figure): string {
  const total = f.values.reduce((sum, x) => sum + x, 0);
  return `${formatNumber(total)} ${f.unit}${f.values.length > 1 ? ` in ${f.values.length} runs` : ''}`;
}

/** "812 ms (760–905)": median, then min–max when there were several runs. */
export function formatSpread(s: Spread, unit: string): string {
  const text = `${formatNumber(s.median)}${unit ? ` ${unit}` : ''}`;
  if (s.n <= 1 || s.min === s.max) return text;
  return `${text} (${formatNumber(s.min)}–${formatNumber(s.max)})`;
}

function formatComparison(s: Spread, diffUnit: string): string {
  const fmt = (x: number): string => (diffUnit ? `${x >= 0 ? '+' : ''}${formatNumber(x)}` : x.toFixed(2));
  const text = `${fmt(s.median)}${diffUnit ? ` ${diffUnit}` : ''}`;
  if (s.n <= 1 || s.min === s.max) return text;
  return `${text} (${fmt(s.min)}–${fmt(s.max)})`;
}

export function formatNumber(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  if (Number.isInteger(x)) return String(x);
  if (a >= 1000) return Math.round(x).toString();
  if (a >= 100) return x.toFixed(0);
  if (a >= 10) return x.toFixed(1);
  return x.toFixed(2);
}
