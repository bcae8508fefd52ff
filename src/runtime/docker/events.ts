import type Docker from 'dockerode';
import type { Readable } from 'node:stream';
import type { EventSubscription, TaskEvent, TaskEventKind } from '../task-runtime.js';
import { labelFilters } from './tasks.js';

/** How far back a new subscription replays the engine's events. */
const EVENT_REPLAY_SECONDS = 2;

const KINDS: Readonly<Record<string, TaskEventKind>> = {
  create: 'created',
  start: 'started',
  die: 'exited',
  oom: 'oom',
  destroy: 'removed',
  health_status: 'health',
};

/** The engine's container events as task events, while the stream lasts. */
export function subscribeToEngine(
  streams: Docker,
  labels: Readonly<Record<string, string>>,
  onEvent: (event: TaskEvent) => void,
): EventSubscription {
  const controller = new AbortController();
  let delivered: () => void = () => {};
  const delivering = new Promise<void>((resolve) => {
    delivered = resolve;
  });
  const ended = stream(streams, labels, onEvent, controller.signal, delivered);
  return { delivering, ended, close: () => controller.abort() };
}

async function stream(
  streams: Docker,
  labels: Readonly<Record<string, string>>,
  onEvent: (event: TaskEvent) => void,
  signal: AbortSignal,
  delivered: () => void,
): Promise<void> {
  const events = (await streams.getEvents({
    // The engine sends its answer's headers just before it registers the subscription;
    // replaying the last seconds' events covers that gap (an event seen twice is harmless).
    since: Math.floor(Date.now() / 1000) - EVENT_REPLAY_SECONDS,
    filters: { type: ['container'], label: labelFilters(labels) },
    abortSignal: signal,
  })) as unknown as Readable;
  delivered();
  let partial = '';
  try {
    for await (const chunk of events) {
      const text = partial + (chunk as Buffer).toString('utf8');
      const lines = text.split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        const event = parseEvent(line);
        if (event) onEvent(event);
      }
    }
  } catch (error) {
    if (!signal.aborted) throw error;
  }
}

export function parseEvent(line: string): TaskEvent | null {
  if (line.trim() === '') return null;
  const raw = JSON.parse(line) as { Action?: string; id?: string; Actor?: { Attributes?: Record<string, string> }; timeNano?: number };
  // Actions like "exec_start: sh" carry a suffix; only the verb matters.
  const kind = KINDS[(raw.Action ?? '').split(':')[0] as string];
  if (!kind || !raw.id) return null;
  return {
    kind,
    taskId: raw.id,
    labels: raw.Actor?.Attributes ?? {},
    time: new Date(Math.floor((raw.timeNano ?? Date.now() * 1e6) / 1e6)),
  };
}
