import { assertColourName, colourRole, ColourConflictError, ColourNotFoundError, MAX_COLOURS } from '../domain/colours.js';
import type { Service } from '../domain/model.js';
import type { Store } from '../store/store.js';

/**
 * Which rows of the services table a request about one service reads or writes. A service
 * without colours is its own row, as it always was; a service with colours has a row per
 * colour, which holds its revisions, deployments, tasks, events and logs (ADR 011).
 */

/** The colour a request names, checked; undefined when it names none. */
export function requestedColour(colour: string | undefined): string | undefined {
  if (colour !== undefined) assertColourName(colour);
  return colour;
}

/** The row a read of tasks or logs goes to: the colour asked for, else the live colour, else the service. */
export function rowFor(store: Store, service: Service, colour: string | undefined): Service {
  if (colour !== undefined) return colourRow(store, service, colour);
  if (colourRole(service) !== 'coloured') return service;
  return store.services.colourOf(service.id, service.liveColour as string) ?? service;
}

/** The colour's row; 404 when the service has no such colour. */
export function colourRow(store: Store, service: Service, colour: string): Service {
  assertColourName(colour);
  const row = store.services.colourOf(service.id, colour);
  if (!row) throw new ColourNotFoundError(service.name, colour, store.services.coloursOf(service.id).map((c) => c.colour as string));
  return row;
}

/**
 * The rows whose events or deployments a request lists, and each one's colour: the colour
 * asked for; else the service and all its colours, merged.
 */
export function rowsFor(store: Store, service: Service, colour: string | undefined): Map<number, string | null> {
  if (colour !== undefined) return new Map([[colourRow(store, service, colour).id, colour]]);
  const rows = new Map<number, string | null>([[service.id, null]]);
  for (const row of store.services.coloursOf(service.id)) rows.set(row.id, row.colour);
  return rows;
}

/**
 * The row a new revision goes to: the service itself, or its colour, made when new (the
 * service's first colour becomes its live one). Call inside the PUT's transaction.
 */
export function deploymentTarget(store: Store, service: Service, colour: string | undefined): Service {
  const role = colourRole(service);
  if (colour === undefined) {
    if (role !== 'coloured') return service;
    const names = store.services.coloursOf(service.id).map((c) => c.colour);
    throw new ColourConflictError(`Service '${service.name}' has colours (${names.join(', ')}); deploy into one of them with ?colour=NAME (berth deploy --colour NAME)`);
  }
  assertColourName(colour);
  if (role === 'plain' && store.deployments.latest(service.id) !== null) {
    throw new ColourConflictError(`Service '${service.name}' was deployed without a colour; deploy it without one, or create a new service for blue/green releases`);
  }
  const existing = store.services.colourOf(service.id, colour);
  if (existing?.status === 'DRAINING') throw new ColourConflictError(`Colour '${colour}' of '${service.name}' is being terminated; deploy it again once it is gone`);
  if (existing) return existing;
  const count = store.services.coloursOf(service.id).length;
  if (count >= MAX_COLOURS) throw new ColourConflictError(`Service '${service.name}' has ${count} colours, the most it may have; terminate one first`);
  const created = store.services.createColour(service, colour);
  const live = store.services.byId(service.id)?.liveColour === colour;
  store.events.add(service.id, `colour ${colour} created${live ? ', live: it is the first colour' : '; it serves live traffic once switched to'}`);
  return created;
}
