import { randomBytes } from 'node:crypto';
import { makeFigure, type Figure, type FigureInput } from './figures.js';

type CleanupFn = () => Promise<unknown> | unknown;

/**
 * Resources one bench started, released in reverse order when it ends, fails, or the run
 * is interrupted. Each release is bounded by whatever it calls; one failing does not stop the rest.
 */
export class Scope {
  private readonly steps: { what: string; fn: CleanupFn }[] = [];
  private closed = false;

  constructor(private readonly log: (message: string) => void) {}

  defer(what: string, fn: CleanupFn): void {
    if (this.closed) throw new Error(`scope already closed; cannot defer ${what}`);
    this.steps.push({ what, fn });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    while (this.steps.length > 0) {
      const step = this.steps.pop() as { what: string; fn: CleanupFn };
      try {
        await step.fn();
      } catch (error) {
        this.log(`cleanup: ${step.what} failed: ${(error as Error).message}`);
      }
    }
  }
}

/** What every bench receives: where to record figures and raw data, and how to clean up. */
export class BenchContext {
  /** Labels the containers this run starts itself, so cleanup finds exactly those. */
  readonly session = randomBytes(4).toString('hex');
  readonly figures: Figure[] = [];
  readonly raw: Record<string, unknown> = {};
  /** Extra tables a bench prints after the main one (scale's growth table). */
  readonly notes: string[] = [];
  private readonly scopes = new Set<Scope>();
  private readonly startedAt = performance.now();

  log(message: string): void {
    const t = ((performance.now() - this.startedAt) / 1000).toFixed(1).padStart(6);
    process.stderr.write(`[${t}s] ${message}\n`);
  }

  record(input: FigureInput): Figure {
    const figure = makeFigure(input);
    this.figures.push(figure);
    return figure;
  }

  /** Runs body with a scope that is closed however body ends. */
  async scoped<T>(body: (scope: Scope) => Promise<T>): Promise<T> {
    const scope = new Scope((m) => this.log(m));
    this.scopes.add(scope);
    try {
      return await body(scope);
    } finally {
      await scope.close();
      this.scopes.delete(scope);
    }
  }

  /** On SIGINT: release whatever is still open. */
  async closeAll(): Promise<void> {
    for (const scope of [...this.scopes].reverse()) await scope.close();
  }
}
