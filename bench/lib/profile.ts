/**
 * Summarises a V8 .cpuprofile (as written with BENCH_CPU_PROF, or node --cpu-prof):
 * self time by function and by source file, biggest first.
 * Usage: node --import tsx bench/lib/profile.ts FILE.cpuprofile [TOP]
 */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface SelfTime {
  readonly name: string;
  readonly ms: number;
}

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function where(url: string): string {
  if (url === '') return '(native)';
  const path = url.startsWith('file://') ? fileURLToPath(url) : url;
  return path.startsWith(ROOT) ? relative(ROOT, path) : path;
}

/** Self time per function and per file, in ms, sorted descending. */
export function summariseProfile(profile: CpuProfile): { total: number; functions: SelfTime[]; files: SelfTime[] } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const functions = new Map<string, number>();
  const files = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const ms = (profile.timeDeltas[i] ?? 0) / 1000;
    const node = byId.get(id);
    if (!node) return;
    total += ms;
    const frame = node.callFrame;
    const file = where(frame.url);
    const fn = `${frame.functionName || '(anonymous)'} ${file}${frame.url ? `:${frame.lineNumber + 1}` : ''}`;
    functions.set(fn, (functions.get(fn) ?? 0) + ms);
    files.set(file, (files.get(file) ?? 0) + ms);
  });
  const sorted = (m: Map<string, number>): SelfTime[] => [...m].map(([name, ms]) => ({ name, ms })).sort((a, b) => b.ms - a.ms);
  return { total, functions: sorted(functions), files: sorted(files) };
}

function main(): void {
  const file = process.argv[2];
  if (!file) throw new Error('usage: profile.ts FILE.cpuprofile [TOP]');
  const top = Number(process.argv[3] ?? 25);
  const { total, functions, files } = summariseProfile(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile);
  const line = (s: SelfTime): string => `${s.ms.toFixed(1).padStart(9)} ms ${((100 * s.ms) / total).toFixed(1).padStart(5)}%  ${s.name}`;
  process.stdout.write(`${total.toFixed(0)} ms sampled\n\nby file:\n${files.slice(0, top).map(line).join('\n')}\n\nby function:\n${functions.slice(0, top).map(line).join('\n')}\n`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main();
