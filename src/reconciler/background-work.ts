export type WorkState = { readonly status: 'running' } | { readonly status: 'done' } | { readonly status: 'failed'; readonly error: Error };

/**
 * Slow operations (image pulls) run beside the reconcile loop instead of
 * blocking a pass; a pass starts them once and reads their outcome later.
 */
export class BackgroundWork {
  private readonly work = new Map<string, WorkState>();

  constructor(private readonly onSettled: () => void) {}

  /** Starts `fn` under `key` unless it already runs or has settled; returns its state. */
  ensure(key: string, fn: () => Promise<void>): WorkState {
    const existing = this.work.get(key);
    if (existing) return existing;
    this.work.set(key, { status: 'running' });
    fn().then(
      () => this.settle(key, { status: 'done' }),
      (error: unknown) =>
        this.settle(key, { status: 'failed', error: error instanceof Error ? error : new Error(String(error)) }),
    );
    return { status: 'running' };
  }

  forget(key: string): void {
    this.work.delete(key);
  }

  private settle(key: string, state: WorkState): void {
    if (!this.work.has(key)) return;
    this.work.set(key, state);
    this.onSettled();
  }
}
