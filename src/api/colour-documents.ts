import type { Service } from '../domain/model.js';
import type { TaskObserver } from '../domain/observed.js';
import type { OwnedEvent } from '../store/events.js';
import type { Store } from '../store/store.js';
import { iso, statusDoc, type StatusInput } from './documents.js';
import type { StatusDocT } from './schemas.js';

const EVENTS_IN_STATUS = 25;
const LAST_EXIT_LINES = 10;

/** What statusDoc needs of one row (a service, or one of its colours). */
export async function statusInput(store: Store, observer: TaskObserver, row: Service): Promise<StatusInput> {
  return {
    service: row,
    revisions: new Map(store.revisions.list(row.id).map((r) => [r.number, r])),
    tasks: await observer.tasks(row.id),
    events: store.events.list(row.id, EVENTS_IN_STATUS),
    deployment: store.deployments.latest(row.id),
    lastExitLogs: (store.taskLogs.list(row.id, 1)[0]?.lines ?? []).slice(-LAST_EXIT_LINES).map((l) => l.message),
  };
}

/**
 * A service with colours in the servicectl shape: the top-level fields are the live colour's,
 * so a client that knows nothing of colours sees what serves; `events` are the service's own
 * and every colour's, newest first; `colours` has each colour's full status.
 */
export async function colouredStatusDoc(store: Store, observer: TaskObserver, service: Service): Promise<StatusDocT> {
  const rows = store.services.coloursOf(service.id);
  const docs = await Promise.all(rows.map(async (row) => ({ row, doc: statusDoc(await statusInput(store, observer, row)) })));
  const names = new Map<number, string | null>([[service.id, null], ...rows.map((r) => [r.id, r.colour] as const)]);
  const top = docs.find((d) => d.row.colour === service.liveColour)?.doc ?? statusDoc(await statusInput(store, observer, service));
  return {
    ...top,
    service_status: service.status === 'DRAINING' ? 'DRAINING' : top.service_status,
    events: store.events.listOfMany([...names.keys()], EVENTS_IN_STATUS).map((e) => eventDoc(e, names)),
    live_colour: service.liveColour as string,
    colours: docs.map(({ row, doc }) => ({ colour: row.colour as string, live: row.colour === service.liveColour, ...doc })),
  };
}

/** An event as the status and events documents show it, with its colour when it is a colour's. */
export function eventDoc(event: OwnedEvent, colours: ReadonlyMap<number, string | null>): { created_at: string; message: string; colour?: string } {
  const colour = colours.get(event.serviceId) ?? null;
  return { created_at: iso(event.createdAt), message: event.message, ...(colour === null ? {} : { colour }) };
}
