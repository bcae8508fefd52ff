import type { ComponentChildren } from 'preact';

/** One word with a colour for how things are: green when well, amber while changing, red when not. */
export function State({ value }: { value: string }) {
  const tone = /^(running|healthy|ACTIVE|RUNNING|succeeded|completed|ready|verified)$/.test(value)
    ? 'good'
    : /^(failed|unhealthy|crash-looping|exited|timed-out|cancelled|STOPPED)$/i.test(value)
      ? 'bad'
      : 'busy';
  return <span class={`state state-${tone}`}>{value}</span>;
}

export function Time({ iso }: { iso: string }) {
  const date = new Date(iso);
  return (
    <time dateTime={iso} title={date.toISOString()}>
      {date.toLocaleTimeString()}
    </time>
  );
}

export function Panel({ title, children, actions }: { title: string; children: ComponentChildren; actions?: ComponentChildren }) {
  return (
    <section class="panel" aria-label={title}>
      <header>
        <h2>{title}</h2>
        {actions}
      </header>
      {children}
    </section>
  );
}

export function ErrorNote({ message }: { message: string | null }) {
  return message ? (
    <p class="error" role="alert">
      {message}
    </p>
  ) : null;
}

/** A progress bar that says its value to screen readers too. */
export function ProgressBar({ done, total, message }: { done: number; total: number; message: string | null }) {
  const percent = total > 0 ? Math.min(100, Math.round((done / total) * 100)) : 0;
  return (
    <div class="progress" role="progressbar" aria-valuemin={0} aria-valuemax={100} aria-valuenow={percent} aria-label="job progress">
      <div class="progress-fill" style={{ width: `${percent}%` }} />
      <span class="progress-text">
        {done}/{total} ({percent}%){message ? ` ${message}` : ''}
      </span>
    </div>
  );
}
