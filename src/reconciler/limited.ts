const YIELD_EVERY_ITEMS = 20;

/**
 * Runs fn on every item, at most `limit` at a time; fn returns a promise only for an item
 * that waits on something.
 */
export async function forEachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void> | null): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      const work = fn(item);
      if (work) await work;
      // Items with nothing to wait on never give the event loop back: without a yield, a pass
      // over hundreds of them holds it, and API requests wait it out.
      if (next % YIELD_EVERY_ITEMS === 0) await new Promise<void>((resolve) => setImmediate(resolve));
    }
  });
  await Promise.all(workers);
}
