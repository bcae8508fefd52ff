import { BerthApiError } from '../client/errors.js';
import { BerthClient } from '../client/berth-client.js';
import { StackApi } from '../client/stacks.js';

/** Who the dashboard is signed in as (GET /ui/session). */
export interface Session {
  readonly kind: 'admin' | 'project';
  readonly project: string | null;
  readonly projects: readonly string[];
}

const UI = { 'x-berth-ui': '1' } as const;

/**
 * The public API, as any client uses it, through the SDK: the session cookie (HttpOnly, sent
 * by the browser) stands for the token, which the page never holds after signing in.
 */
export function clientFor(project: string | null): BerthClient {
  const headers = project === null ? UI : { ...UI, 'x-berth-project': project };
  return new BerthClient({ url: window.location.origin, headers, fetch: (input, init) => readsRetried(input, { ...init, credentials: 'same-origin' }) });
}

const READ_RETRIES = 2;

/**
 * fetch, with a read the browser dropped before any answer sent again (twice at most): Chromium
 * fails every request in flight when the machine's network interfaces change, as they do
 * whenever the engine makes a network. A change is never sent twice: it may have been done.
 */
async function readsRetried(input: RequestInfo | URL, init: RequestInit): Promise<Response> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fetch(input, init);
    } catch (error) {
      if ((init.method ?? 'GET') !== 'GET' || init.signal?.aborted || attempt >= READ_RETRIES) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

export type { StackApi };

export async function currentSession(): Promise<Session | null> {
  const res = await fetch('/ui/session', { credentials: 'same-origin' });
  if (!res.ok) throw new Error(`GET /ui/session answered ${res.status}`);
  const session = (await res.json()) as Session | { kind: null };
  return session.kind === null ? null : session;
}

export async function signIn(token: string): Promise<Session> {
  const res = await fetch('/ui/session', { method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/json', ...UI }, body: JSON.stringify({ token }) });
  const body = (await res.json()) as Session & { Error?: string; code?: string };
  if (!res.ok) throw new BerthApiError(res.status, body.code, body.Error ?? `HTTP ${res.status}`);
  return body;
}

export async function signOut(): Promise<void> {
  await fetch('/ui/session', { method: 'DELETE', credentials: 'same-origin', headers: UI });
}

/** Server-sent events of one service; returns the function that stops following. */
export function followService(project: string | null, name: string, on: Record<string, (data: unknown) => void>): () => void {
  // EventSource cannot send headers: the admin's project is named in the query instead (a
  // project's session acts on its own project whatever it names). The browser sends the cookie.
  const source = new EventSource(`/services/${encodeURIComponent(name)}/live${project ? `?project=${encodeURIComponent(project)}` : ''}`, { withCredentials: true });
  for (const [event, handler] of Object.entries(on)) source.addEventListener(event, (e) => handler(JSON.parse((e as MessageEvent<string>).data)));
  return () => source.close();
}

/** How often a log stream the browser dropped is followed again before the page says so. */
const RESUMES = 5;
const RESUME_AFTER_MS = 1000;

export interface LineHandlers {
  readonly line: (stream: string, message: string) => void;
  /** The stream is followed again from its tail: lines shown so far come again. */
  readonly resume: () => void;
  /** It ended (a job's, when the job has), or broke off for good: `error` says why. */
  readonly end: (error: string | null) => void;
}

/**
 * Follows an NDJSON log stream until it ends or is stopped; returns the function that stops
 * it. A connection the browser drops (Chromium drops every request when the machine's network
 * interfaces change, as they do whenever the engine makes a network) is followed again, a few
 * times; a refusal by the server is told at once.
 */
export function followLines(client: BerthClient, path: 'service' | 'job', id: string, on: LineHandlers): () => void {
  const stop = new AbortController();
  const options = { tail: path === 'service' ? 50 : 1000, signal: stop.signal, onLine: (l: { stream_name: string; message: string }) => on.line(l.stream_name, l.message) };
  const follow = () => (path === 'service' ? client.followLogs(id, options) : client.followJobLogs(Number(id), options));
  void (async () => {
    for (let attempt = 0; ; attempt++) {
      try {
        await follow();
        if (!stop.signal.aborted) on.end(null);
        return;
      } catch (error) {
        if (stop.signal.aborted) return;
        if (error instanceof BerthApiError || attempt >= RESUMES) return on.end(describeError(error));
      }
      await new Promise((resolve) => setTimeout(resolve, RESUME_AFTER_MS));
      if (stop.signal.aborted) return;
      on.resume();
    }
  })();
  return () => stop.abort();
}

export function describeError(error: unknown): string {
  if (error instanceof BerthApiError) return `${error.message} (${error.code})`;
  return (error as Error).message ?? String(error);
}

export function stackApi(client: BerthClient): StackApi {
  return client.stacks;
}

/** An item of a list with its own document, or why that could not be read (deleted meanwhile, the server gone). */
export interface Detailed<T, D> {
  readonly item: T;
  readonly detail: D | null;
  readonly error?: string;
}

/** Each item's own document, read at once; one that cannot be read says why instead of failing the list. */
export function readDetails<T, D>(items: readonly T[], read: (item: T) => Promise<D>): Promise<Detailed<T, D>[]> {
  return Promise.all(
    items.map((item) =>
      read(item).then(
        (detail): Detailed<T, D> => ({ item, detail }),
        (e: unknown): Detailed<T, D> => ({ item, detail: null, error: describeError(e) }),
      ),
    ),
  );
}
