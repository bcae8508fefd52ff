import { BerthError } from './errors.js';
import type { Service } from './model.js';
import { printable } from './names.js';

/**
 * Colours (NMPI's blue/green): a service deployed with colours runs each colour as its own
 * workload — revisions, deployments, tasks, health and events of its own — and the gateway
 * serves one of them, the live colour, at the service's address. Any colour is reached at the
 * same address with the header `X-Berth-Colour` or the cookie `berth_colour` (ADR 011).
 */

/** Colours a service may have at once: blue, green and a canary or two. */
export const MAX_COLOURS = 4;

/** The gateway's module checks the same rule before it looks a colour up (nginx-module). */
const COLOUR_NAME = /^[a-z]{1,16}$/;

export const COLOUR_HEADER = 'X-Berth-Colour';
export const COLOUR_COOKIE = 'berth_colour';

export function isColourName(value: string): boolean {
  return COLOUR_NAME.test(value);
}

export function assertColourName(value: string): void {
  if (!isColourName(value)) {
    throw new InvalidColourError(`Invalid colour '${printable(value)}': a colour is a lower-case word of 1 to 16 letters (blue, green, canary)`);
  }
}

/** How a row of the services table takes part in colours. */
export function colourRole(service: Pick<Service, 'colour' | 'liveColour'>): 'plain' | 'coloured' | 'colour' {
  if (service.colour !== null) return 'colour';
  return service.liveColour === null ? 'plain' : 'coloured';
}

/** `nmpi-blue`: a colour as NMPI names it, in tables and task names. */
export function colourLabel(service: Pick<Service, 'name' | 'colour'>): string {
  return service.colour === null ? service.name : `${service.name}-${service.colour}`;
}

export class InvalidColourError extends BerthError {
  readonly code = 'BERTH_INVALID_COLOUR';
  readonly status = 400;
}

export class ColourNotFoundError extends BerthError {
  readonly code = 'BERTH_COLOUR_NOT_FOUND';
  readonly status = 404;
  constructor(service: string, colour: string, colours: readonly string[]) {
    super(
      `Service '${service}' has no colour '${printable(colour)}'${colours.length > 0 ? `; its colours: ${colours.join(', ')}` : '; it has no colours (deploy one with ?colour=NAME)'}`,
    );
  }
}

/** A switch to a colour that has no healthy task, without force. */
export class ColourUnhealthyError extends BerthError {
  readonly code = 'BERTH_COLOUR_UNHEALTHY';
  readonly status = 409;
}

/** Terminating the live colour, which would leave the service's address with nothing to serve. */
export class ColourLiveError extends BerthError {
  readonly code = 'BERTH_COLOUR_LIVE';
  readonly status = 409;
  constructor(service: string, colour: string) {
    super(`Colour '${colour}' is live for '${service}'; switch to another colour first ('berth switch ${service} COLOUR'), or delete the whole service`);
  }
}

/**
 * A request that mixes a service with and without colours: a colour for a service deployed
 * without one, none for a service that has colours, a colour beyond the limit, a colour being
 * terminated.
 */
export class ColourConflictError extends BerthError {
  readonly code = 'BERTH_COLOUR_CONFLICT';
  readonly status = 409;
}

/**
 * Moves a coloured service's live traffic to another colour: the API's port to the reconciler,
 * which alone writes the gateway's table. `commit` records the switch in the store; it runs
 * once the gateway serves the colour, and nothing else changes the table in between.
 */
export interface ColourSwitch {
  switchLive(service: Service, colour: string, options: { readonly force: boolean; readonly commit: () => void }): Promise<void>;
}
