/**
 * One place that knows whether anything the reconciler reads has changed. Every source of
 * change counts its own changes: the store's rows (counted by triggers, read when asked), the
 * tasks berth knows of, their health, the stops berth asked for. A stamp is all counts at
 * once: two equal stamps mean nothing changed in between, whatever reads it.
 *
 * It replaces caches that compared objects by identity (ADR 008): a table or list made from
 * these sources is made again whenever any of them moved, so a new input to it cannot be
 * forgotten — it comes from one of these sources, or it is a new source here (ADR 009).
 */
export class ChangeTracker {
  private readonly pushed = new Map<string, number>();
  private readonly pulled = new Map<string, () => number | string>();

  /** Counts one change of a source that tells when it changes. */
  bump(source: string): void {
    this.pushed.set(source, (this.pushed.get(source) ?? 0) + 1);
  }

  /** Registers a source whose count is read when a stamp is taken (the store's counters). */
  follow(source: string, count: () => number | string): void {
    this.pulled.set(source, count);
  }

  version(source: string): number | string {
    const read = this.pulled.get(source);
    return read ? read() : (this.pushed.get(source) ?? 0);
  }

  /** Every source's count, in one value to compare with an earlier one. */
  stamp(): string {
    const parts: string[] = [];
    for (const [source, count] of this.pushed) parts.push(`${source}:${count}`);
    for (const [source, read] of this.pulled) parts.push(`${source}:${read()}`);
    return parts.join(' ');
  }
}
