import { InvalidHealthCheckError } from './errors.js';

export interface StatusRange {
  readonly from: number;
  readonly to: number;
}

/** What a service's tasks are probed with; stored with the service. */
export interface HealthCheck {
  readonly relPath: string;
  readonly statusCodes: readonly StatusRange[];
  readonly intervalSeconds: number;
}

export interface HealthCheckInput {
  rel_path?: string;
  status_codes?: string | readonly (number | string)[];
  interval?: number;
}

export const DEFAULT_HEALTH_CHECK: HealthCheck = {
  relPath: '/',
  statusCodes: [{ from: 200, to: 399 }],
  intervalSeconds: 5,
};

export const MIN_INTERVAL_SECONDS = 1;
export const MAX_INTERVAL_SECONDS = 300;
const MAX_REL_PATH = 512;
const REL_PATH = /^\/[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*$/;

export function parseHealthCheck(input: HealthCheckInput | undefined): HealthCheck {
  if (input === undefined) return DEFAULT_HEALTH_CHECK;
  const relPath = input.rel_path ?? DEFAULT_HEALTH_CHECK.relPath;
  if (relPath.length > MAX_REL_PATH || !REL_PATH.test(relPath)) {
    throw new InvalidHealthCheckError(
      `health_check.rel_path must start with '/' and contain only URL path characters (at most ${MAX_REL_PATH})`,
    );
  }
  const interval = input.interval ?? DEFAULT_HEALTH_CHECK.intervalSeconds;
  if (!Number.isFinite(interval) || interval < MIN_INTERVAL_SECONDS || interval > MAX_INTERVAL_SECONDS) {
    throw new InvalidHealthCheckError(
      `health_check.interval must be between ${MIN_INTERVAL_SECONDS} and ${MAX_INTERVAL_SECONDS} seconds`,
    );
  }
  const statusCodes =
    input.status_codes === undefined ? DEFAULT_HEALTH_CHECK.statusCodes : parseStatusCodes(input.status_codes);
  return { relPath, statusCodes, intervalSeconds: interval };
}

/** Accepts "200-299", "200,302", "200-299,404", [200, 302] or ["200-299", 404]. */
export function parseStatusCodes(input: string | readonly (number | string)[]): StatusRange[] {
  const parts = typeof input === 'string' ? input.split(',') : input.map((part) => String(part));
  if (parts.length === 0 || parts.length > 32) {
    throw new InvalidHealthCheckError('health_check.status_codes must list between 1 and 32 codes or ranges');
  }
  return parts.map((part) => parseRange(part.trim()));
}

function parseRange(part: string): StatusRange {
  const match = /^(\d{3})(?:-(\d{3}))?$/.exec(part);
  if (!match) {
    throw new InvalidHealthCheckError(
      `health_check.status_codes: '${part.slice(0, 20)}' is not a status code or a range like 200-299`,
    );
  }
  const from = Number(match[1]);
  const to = match[2] === undefined ? from : Number(match[2]);
  if (from < 100 || to > 599 || from > to) {
    throw new InvalidHealthCheckError(
      `health_check.status_codes: '${part}' must be a range within 100-599, low end first`,
    );
  }
  return { from, to };
}

export function formatStatusCodes(ranges: readonly StatusRange[]): string {
  return ranges.map((r) => (r.from === r.to ? `${r.from}` : `${r.from}-${r.to}`)).join(',');
}

export function statusMatches(ranges: readonly StatusRange[], status: number): boolean {
  return ranges.some((r) => status >= r.from && status <= r.to);
}
