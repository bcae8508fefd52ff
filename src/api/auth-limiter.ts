import type { Clock } from '../domain/model.js';

/**
 * Counts failed authentications per client over a sliding window; past the
 * limit the client is refused until old failures age out, so a token cannot be
 * guessed by brute force. Memory stays bounded by forgetting idle clients.
 */
export class AuthFailureLimiter {
  private readonly failures = new Map<string, number[]>();

  constructor(
    private readonly clock: Clock,
    private readonly maxFailures = 30,
    private readonly windowMs = 60_000,
    private readonly maxClients = 10_000,
  ) {}

  /** Seconds the client must wait, or 0 when it may try. */
  retryAfter(client: string): number {
    const recent = this.recent(client);
    if (recent.length < this.maxFailures) return 0;
    const oldest = recent[0] ?? this.clock.now();
    return Math.max(1, Math.ceil((oldest + this.windowMs - this.clock.now()) / 1000));
  }

  recordFailure(client: string): void {
    if (!this.failures.has(client) && this.failures.size >= this.maxClients) {
      const first = this.failures.keys().next().value;
      if (first !== undefined) this.failures.delete(first);
    }
    const recent = this.recent(client);
    recent.push(this.clock.now());
    this.failures.set(client, recent);
  }

  private recent(client: string): number[] {
    const cutoff = this.clock.now() - this.windowMs;
    const recent = (this.failures.get(client) ?? []).filter((t) => t > cutoff);
    if (recent.length === 0) this.failures.delete(client);
    return recent;
  }
}
