import { RuntimeTaskNotFoundError, RuntimeImageMissingError, RuntimeUnavailableError } from '../../domain/errors.js';

interface EngineError {
  statusCode?: number;
  json?: { message?: string };
  message?: string;
}

export function statusOf(error: unknown): number | undefined {
  return typeof error === 'object' && error !== null ? (error as EngineError).statusCode : undefined;
}

/** The engine's own words for what went wrong. */
function messageOf(error: unknown): string {
  if (typeof error !== 'object' || error === null) return String(error);
  const engine = error as EngineError;
  return (engine.json?.message ?? engine.message ?? String(error)).replace(/^\(HTTP code \d+\)[^-]*- /, '').trim();
}

/** Runs `work`, treating the listed engine status codes as "already done". */
export async function tolerating(codes: readonly number[], work: () => Promise<unknown>): Promise<void> {
  try {
    await work();
  } catch (error) {
    if (!codes.includes(statusOf(error) ?? 0)) throw error;
  }
}

/**
 * Runs one engine call and turns what the engine throws into berth's errors, so nothing above
 * the adapter sees dockerode's: a missing task or image, or the engine refusing or not answering.
 */
export async function engineCall<T>(what: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw wrapEngineError(what, error);
  }
}

export function wrapEngineError(what: string, error: unknown): Error {
  if (error instanceof RuntimeUnavailableError || error instanceof RuntimeTaskNotFoundError || error instanceof RuntimeImageMissingError) {
    return error;
  }
  const status = statusOf(error);
  const message = messageOf(error);
  if (status === 404 && /no such image|pull access denied|not found: manifest/i.test(message)) {
    return new RuntimeImageMissingError(`${what}: ${message}`, { cause: error });
  }
  if (status === 404) return new RuntimeTaskNotFoundError(`${what}: ${message}`, { cause: error });
  return new RuntimeUnavailableError(`the engine could not ${what}: ${message}`, { cause: error });
}
