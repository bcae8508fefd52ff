import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { systemClock, type Clock } from '../domain/model.js';

/** The user name the Docker engine presents at the token endpoint when berth pulls for a deployment. */
export const PULL_TICKET_USER = 'berth-pull';

/** Long enough for a large pull: the engine fetches a new token with the same ticket when its token runs out. */
export const DEFAULT_PULL_TICKET_TTL_MS = 60 * 60 * 1000;

interface TicketBody {
  /** Repository the ticket may pull. */
  readonly r: string;
  /** Expiry, ms since the epoch. */
  readonly e: number;
}

/**
 * Stateless pull-only passwords for the engine: `<body>.<HMAC>`, naming one
 * repository and an expiry. The HMAC key lives only in memory: tickets are
 * minted right before each pull by the same process, so a restart merely
 * invalidates tickets nobody holds any more, and no secret is ever on disk.
 */
export class PullTickets {
  private readonly key = randomBytes(32);

  constructor(
    private readonly clock: Clock = systemClock,
    private readonly ttlMs: number = DEFAULT_PULL_TICKET_TTL_MS,
  ) {}

  mint(repository: string): string {
    const body: TicketBody = { r: repository, e: this.clock.now() + this.ttlMs };
    const encoded = Buffer.from(JSON.stringify(body), 'utf8').toString('base64url');
    return `${encoded}.${this.mac(encoded).toString('base64url')}`;
  }

  /** The repository a valid, unexpired ticket may pull; null otherwise. */
  verify(ticket: string): string | null {
    const [encoded, mac, ...rest] = ticket.split('.');
    if (encoded === undefined || mac === undefined || rest.length > 0) return null;
    const given = Buffer.from(mac, 'base64url');
    const expected = this.mac(encoded);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
    const body = JSON.parse(Buffer.from(encoded, 'base64url').toString('utf8')) as TicketBody;
    return body.e > this.clock.now() ? body.r : null;
  }

  private mac(encoded: string): Buffer {
    return createHmac('sha256', this.key).update(encoded).digest();
  }
}
