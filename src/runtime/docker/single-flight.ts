/** One run of `work` per key at a time: callers who ask for a key meanwhile share the run under way. */
export class SingleFlight {
  private readonly running = new Map<string, Promise<void>>();

  run(key: string, work: () => Promise<void>): Promise<void> {
    const pending = this.running.get(key);
    if (pending) return pending;
    const started = work().finally(() => this.running.delete(key));
    this.running.set(key, started);
    return started;
  }
}
