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
  return new BerthClient({ url: window.location.origin, headers, fetch: (input, init) => fetch(input, { ...init, credentials: 'same-origin' }) });
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

/**
 * Follows an NDJSON log stream until it ends (a job's, when the job has) or is stopped; returns
 * the function that stops it. `onEnd` is told why a stream that broke off did.
 */
export function followLines(client: BerthClient, path: 'service' | 'job', id: string, onLine: (stream: string, message: string) => void, onEnd: (error: string | null) => void): () => void {
  const stop = new AbortController();
  const options = { tail: path === 'service' ? 50 : 1000, signal: stop.signal, onLine: (l: { stream_name: string; message: string }) => onLine(l.stream_name, l.message) };
  const follow = path === 'service' ? client.followLogs(id, options) : client.followJobLogs(Number(id), options);
  follow.then(
    () => !stop.signal.aborted && onEnd(null),
    (e: unknown) => !stop.signal.aborted && onEnd(describeError(e)),
  );
  return () => stop.abort();
}

export function describeError(error: unknown): string {
  if (error instanceof BerthApiError) return `${error.message} (${error.code})`;
  return (error as Error).message ?? String(error);
}

export function stackApi(client: BerthClient): StackApi {
  return client.stacks;
}
