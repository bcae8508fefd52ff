import type { OutputStream } from './context.js';
import type { Style } from './output.js';

export interface BarProgress {
  readonly done: number;
  readonly total: number;
  readonly message: string | null;
}

const CLEAR_LINE = '\r\x1b[2K';
const WIDTH = 24;

/** `[██████··········]  40% 40/100 indexing shard 4`, at most `columns` wide. */
export function renderBar(progress: BarProgress, columns = 80): string {
  const fraction = progress.total > 0 ? Math.min(1, progress.done / progress.total) : 0;
  const filled = Math.round(fraction * WIDTH);
  const text = `[${'█'.repeat(filled)}${'·'.repeat(WIDTH - filled)}] ${String(Math.floor(fraction * 100)).padStart(3)}% ${progress.done}/${progress.total}${progress.message ? ` ${progress.message}` : ''}`;
  return text.length >= columns ? `${text.slice(0, columns - 2)}…` : text;
}

/**
 * A job's progress as one line redrawn in place on a terminal, under the output printed above
 * it. Not on a terminal, it draws nothing (`draws` is false) and the progress lines are
 * printed with the rest of the output.
 */
export class ProgressBar {
  private latest: BarProgress | null = null;
  readonly draws: boolean;

  constructor(
    private readonly stream: OutputStream,
    private readonly style: Style,
  ) {
    this.draws = Boolean(stream.isTTY);
  }

  show(progress: BarProgress): void {
    this.latest = progress;
    this.redraw();
  }

  redraw(): void {
    if (!this.draws || this.latest === null) return;
    this.stream.write(`${CLEAR_LINE}${this.style.cyan(renderBar(this.latest, this.stream.columns ?? 80))}`);
  }

  /** Takes the bar off its line, before other output is written there. */
  clear(): void {
    if (this.draws && this.latest !== null) this.stream.write(CLEAR_LINE);
  }
}
