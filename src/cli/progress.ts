import type { OutputStream } from './context.js';

/**
 * Shows what a long operation is doing. On a terminal: one line redrawn in
 * place with a spinner and the elapsed time, and log lines printed above it.
 * Elsewhere (CI logs, pipes): each new status and each log line once, plain.
 */
export interface Progress {
  /** The current status; printed again only when it changes. */
  status(text: string): void;
  /** A line that stays (an event, a result). */
  log(line: string): void;
  /** Stops redrawing and holds log lines back, while a question is asked. */
  pause(): void;
  resume(): void;
  /** Clears the status line; the progress is done. */
  stop(): void;
}

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const FRAME_MS = 100;
const CLEAR_LINE = '\r\x1b[2K';
// eslint-disable-next-line no-control-regex -- matching the escape character is the point
const ANSI_SGR = /\x1b\[[0-9;]*m/g;

export function createProgress(stream: OutputStream, now: () => number = Date.now): Progress {
  return stream.isTTY ? new TerminalProgress(stream, now) : new PlainProgress(stream);
}

class PlainProgress implements Progress {
  private last = '';
  private held: string[] | null = null;

  constructor(private readonly stream: OutputStream) {}

  status(text: string): void {
    if (text === this.last) return;
    this.last = text;
    this.log(text);
  }

  log(line: string): void {
    if (this.held) this.held.push(line);
    else this.stream.write(`${line}\n`);
  }

  pause(): void {
    this.held ??= [];
  }

  resume(): void {
    const held = this.held ?? [];
    this.held = null;
    for (const line of held) this.log(line);
  }

  stop(): void {
    this.resume();
  }
}

class TerminalProgress implements Progress {
  private text = '';
  private frame = 0;
  private readonly started: number;
  private timer: NodeJS.Timeout | null = null;
  private held: string[] | null = null;

  constructor(
    private readonly stream: OutputStream,
    private readonly now: () => number,
  ) {
    this.started = now();
    this.startTimer();
  }

  status(text: string): void {
    this.text = text;
    this.draw();
  }

  log(line: string): void {
    if (this.held) {
      this.held.push(line);
      return;
    }
    this.stream.write(`${CLEAR_LINE}${line}\n`);
    this.draw();
  }

  pause(): void {
    if (this.held) return;
    this.held = [];
    this.stopTimer();
    this.stream.write(CLEAR_LINE);
  }

  resume(): void {
    const held = this.held ?? [];
    this.held = null;
    for (const line of held) this.log(line);
    this.startTimer();
    this.draw();
  }

  stop(): void {
    const held = this.held ?? [];
    this.held = null;
    this.stopTimer();
    for (const line of held) this.stream.write(`${CLEAR_LINE}${line}\n`);
    this.stream.write(CLEAR_LINE);
  }

  private draw(): void {
    if (this.held || this.text === '') return;
    const seconds = Math.floor((this.now() - this.started) / 1000);
    const line = `${FRAMES[this.frame % FRAMES.length] ?? ''} ${this.text} (${seconds}s)`;
    // Longer than the terminal, the line would wrap and \r could no longer redraw it in place.
    // Colour codes take no room on screen, so the plain text is measured (and cut, losing the colour).
    const width = this.stream.columns ?? 80;
    const visible = line.replace(ANSI_SGR, '');
    this.stream.write(`${CLEAR_LINE}${visible.length >= width ? `${visible.slice(0, width - 2)}…` : line}`);
  }

  private startTimer(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      this.frame++;
      this.draw();
    }, FRAME_MS);
    // A forgotten spinner must not keep the process alive.
    this.timer.unref();
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
