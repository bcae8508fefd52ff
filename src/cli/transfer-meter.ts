import type { OutputStream } from './context.js';
import { createProgress, type Progress } from './progress.js';

/** The progress line is redrawn at most this often. */
const METER_MS = 250;

/** Counts bytes as they pass and shows how many and how fast. */
export class Meter {
  private bytes = 0;
  private readonly started = Date.now();
  private drawn = 0;
  private readonly progress: Progress;

  constructor(
    private readonly out: OutputStream,
    private readonly verb: string,
    private readonly total: number | null = null,
  ) {
    this.progress = createProgress(out);
  }

  async *count(source: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
    for await (const chunk of source) {
      this.bytes += chunk.length;
      if (Date.now() - this.drawn >= METER_MS) {
        this.drawn = Date.now();
        this.progress.status(`${this.verb} ${formatBytes(this.bytes)}${this.total === null ? '' : ` of ${formatBytes(this.total)}`} at ${this.rate()}`);
      }
      yield chunk;
    }
  }

  done(where: string): void {
    this.progress.stop();
    const seconds = (Date.now() - this.started) / 1000;
    this.out.write(`${this.verb} ${formatBytes(this.bytes)} in ${seconds.toFixed(1)} s (${this.rate()}) ${where}\n`);
  }

  stop(): void {
    this.progress.stop();
  }

  private rate(): string {
    const seconds = Math.max((Date.now() - this.started) / 1000, 0.001);
    return `${formatBytes(this.bytes / seconds)}/s`;
  }
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${Math.round(value)} B` : `${value.toFixed(1)} ${units[unit]}`;
}
