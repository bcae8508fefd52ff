/** How a load fed by an upload as it arrives stands: still running, done, or the error it failed with. */
export type StreamedLoad = 'running' | 'done' | Error;

interface Stream {
  load: StreamedLoad;
  /** Why the upload did not arrive whole (the connection broke, fewer bytes than announced). */
  uploadFailure: string | null;
}

/**
 * Restores whose upload this process loads into the fresh database while it arrives (PostgreSQL).
 * In memory on purpose: a restore still `receiving` in the store but unknown here was cut short
 * by a crash, and the restore controller fails it. The controller takes over each one once its
 * load has ended, and swaps only when the store says the upload is whole.
 */
export class RestoreStreams {
  private readonly streams = new Map<number, Stream>();

  constructor(private readonly kick: () => void = () => {}) {}

  /** Called in the same tick as the restore is stored, so no pass sees it unknown. */
  begin(restoreId: number): void {
    this.streams.set(restoreId, { load: 'running', uploadFailure: null });
  }

  loadEnded(restoreId: number, result: 'done' | Error): void {
    const stream = this.streams.get(restoreId);
    if (stream) stream.load = result;
    this.kick();
  }

  uploadFailed(restoreId: number, reason: string): void {
    const stream = this.streams.get(restoreId);
    if (stream) stream.uploadFailure = reason;
    this.kick();
  }

  /** null: not streamed by this process (a file to load, or an upload a crash cut short). */
  get(restoreId: number): Readonly<Stream> | null {
    return this.streams.get(restoreId) ?? null;
  }

  forget(restoreId: number): void {
    this.streams.delete(restoreId);
  }
}
