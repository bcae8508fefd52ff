import { BerthResponseError } from './errors.js';

/** Longest line accepted; a server sending more without a newline is not speaking NDJSON. */
const MAX_LINE_BYTES = 1024 * 1024;

/**
 * Calls `onValue` with each JSON value of a newline-delimited JSON body as
 * its line completes; resolves when the body ends. A failure to read the body
 * is thrown as `readFailure(cause)`; anything else (a bad line, what
 * `onValue` throws) passes unchanged, after cancelling the rest of the body.
 */
export async function readNdjson(body: ReadableStream<Uint8Array>, onValue: (value: unknown) => void, readFailure: (cause: unknown) => Error): Promise<void> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let pending = '';
  try {
    for (;;) {
      const chunk = await reader.read().catch((error: unknown) => {
        throw new ReadFailed(readFailure(error));
      });
      if (chunk.done) break;
      pending += decoder.decode(chunk.value, { stream: true });
      let newline = pending.indexOf('\n');
      while (newline >= 0) {
        emit(pending.slice(0, newline), onValue);
        pending = pending.slice(newline + 1);
        newline = pending.indexOf('\n');
      }
      if (pending.length > MAX_LINE_BYTES) throw new BerthResponseError(`The stream sent a line longer than ${MAX_LINE_BYTES} bytes`);
    }
    emit(pending + decoder.decode(), onValue);
  } catch (error) {
    if (error instanceof ReadFailed) throw error.failure;
    // The body still flows; stop the transfer, since nobody reads the rest.
    await reader.cancel();
    throw error;
  }
}

/** Marks a failure of the body itself, which cannot be cancelled any more. */
class ReadFailed {
  constructor(readonly failure: Error) {}
}

function emit(line: string, onValue: (value: unknown) => void): void {
  if (line.trim() === '') return;
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    throw new BerthResponseError(`The stream sent a line that is not JSON: ${line.slice(0, 160)}`, { cause: error });
  }
  onValue(value);
}
