import { BerthApiError, type BerthClient, type ServiceStatusDoc, type ServiceSummaryDoc } from '../client/index.js';
import type { CliContext } from './context.js';
import { printJson, styleFor, type Style } from './output.js';

/** Status requests in flight at once: quick for a few dozen services, gentle on the server. */
const PARALLEL = 6;

/** Every service of the project with its status document, in the listing's order. */
export async function serviceDocs(client: BerthClient): Promise<{ summary: ServiceSummaryDoc; doc: ServiceStatusDoc }[]> {
  const services = await client.listServices();
  const docs = await mapLimit(services, PARALLEL, async (summary) => {
    try {
      return { summary, doc: await client.getService(summary.name) };
    } catch (error) {
      // Deleted between the list and its status call: it is gone, so it is not listed.
      if (error instanceof BerthApiError && error.status === 404) return null;
      throw error;
    }
  });
  return docs.filter((d): d is { summary: ServiceSummaryDoc; doc: ServiceStatusDoc } => d !== null);
}

/** Prints a listing's rows as JSON, or the table `render` makes of them, or that there is nothing to list. */
export function printServiceRows<T>(ctx: CliContext, rows: readonly T[], json: boolean | undefined, render: (style: Style) => string): void {
  if (json) printJson(ctx.stdout, rows);
  else if (rows.length === 0) ctx.stdout.write("No services yet; create one with 'berth create NAME'\n");
  else ctx.stdout.write(render(styleFor(ctx)));
}

/** Like Promise.all over `items`, with at most `limit` calls of `fn` pending. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
