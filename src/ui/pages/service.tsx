import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { BerthClient, ChartPoint, Deployment, Revision, ServiceEvent, ServiceStatusDoc } from '../../client/berth-client.js';
import { describeError, followLines, followService } from '../api.js';
import { ErrorNote, Panel, State, Time } from '../components/bits.js';
import { Chart, type ChartSpec } from '../components/chart.js';
import { Colours } from '../components/colours.js';

const CHARTS: readonly ChartSpec[] = [
  { title: 'Requests', unit: '/s', pick: (p) => p.request_rate },
  { title: 'p95 latency', unit: ' ms', pick: (p) => p.p95_seconds, scale: (v) => v * 1000 },
  { title: 'Errors (5xx)', unit: '%', pick: (p) => p.error_rate, scale: (v) => v * 100 },
  { title: 'Memory', unit: ' MiB', pick: (p) => p.memory_bytes, scale: (v) => v / 1048576 },
];
const MAX_EVENTS = 200;
const MAX_LOG_LINES = 500;

/** One service: its colours, tasks and their health, live events, logs that follow, history and charts. */
export function ServicePage({ client, project, name }: { client: BerthClient; project: string | null; name: string }) {
  const [status, setStatus] = useState<ServiceStatusDoc | null>(null);
  const [events, setEvents] = useState<ServiceEvent[]>([]);
  const [points, setPoints] = useState<ChartPoint[]>([]);
  const [revisions, setRevisions] = useState<Revision[]>([]);
  const [deployments, setDeployments] = useState<Deployment[]>([]);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    setError(null);
    client.serviceMetrics(name).then((m) => setPoints([...m.points]), (e: unknown) => setError(describeError(e)));
    client.events(name, { limit: 50 }).then((e) => setEvents([...e.events].reverse()), () => undefined);
    // Live from here on: the server pushes what changes; the page never polls.
    return followService(project, name, {
      status: (doc) => setStatus(doc as ServiceStatusDoc),
      event: (e) => setEvents((all) => [e as ServiceEvent, ...all.filter((x) => x.id !== (e as ServiceEvent).id)].slice(0, MAX_EVENTS)),
      point: (p) => setPoints((all) => [...all, p as ChartPoint].slice(-240)),
    });
  }, [client, project, name]);

  // The history is read again when a revision or deployment step changes, in any colour.
  const progress = status ? [status.status, ...(status.status.colours ?? [])].map((s) => `${s.current_revision}:${s.deployment?.id}:${s.deployment?.step}`).join(',') : '';
  useEffect(() => {
    client.revisions(name).then(setRevisions, () => undefined);
    client.deployments(name).then(setDeployments, () => undefined);
  }, [client, name, progress]);
  const colours = status?.status.colours;

  return (
    <main>
      <h1 class="page-title">
        {name} {status && <State value={status.status.crash_looping ? 'crash-looping' : status.status.service_status} />}
      </h1>
      {status && (
        <p>
          <a href={status.links.find((l) => l.rel === 'deployment')?.href} rel="noreferrer">
            {status.links.find((l) => l.rel === 'deployment')?.href}
          </a>{' '}
          {status.status.live_colour !== undefined && <> · live colour {status.status.live_colour}</>}
          {' '}· revision {status.status.current_revision ?? '—'} · {status.status.count_running}/{status.status.count_desired} running
        </p>
      )}
      <ErrorNote message={error} />
      {colours && colours.length > 0 && <Colours client={client} name={name} colours={colours} />}
      <div class="charts">
        {CHARTS.map((spec) => (
          <Chart key={spec.title} spec={spec} points={points} />
        ))}
      </div>
      <div class="columns">
        <Panel title="Tasks">
          <Tasks status={status} />
        </Panel>
        <Panel title="Events">
          <ol class="timeline" aria-live="polite">
            {events.map((e) => (
              <li key={e.id}>
                <Time iso={e.created_at} /> {e.colour !== undefined && <span class="colour">{e.colour}</span>} {e.message}
              </li>
            ))}
          </ol>
        </Panel>
      </div>
      <Logs client={client} name={name} />
      <History revisions={revisions} deployments={deployments} />
    </main>
  );
}

/** The tasks and their health: the service's, or with colours every colour's. */
function Tasks({ status }: { status: ServiceStatusDoc | null }) {
  if (!status) return <p>Loading…</p>;
  const colours = status.status.colours;
  const parts = colours && colours.length > 0 ? colours : [{ ...status.status, colour: undefined }];
  const health = new Map(parts.flatMap((p) => p.target_health.targets.map((t) => [t.task_name, t] as const)));
  const tasks = parts.flatMap((p) => p.tasks.map((t) => ({ ...t, colour: p.colour })));
  if (tasks.length === 0) return <p>No tasks.</p>;
  return (
    <table class="list">
      <thead>
        <tr>
          <th scope="col">Task</th>
          {colours && <th scope="col">Colour</th>}
          <th scope="col">Status</th>
          <th scope="col">Health</th>
          <th scope="col">Revision</th>
        </tr>
      </thead>
      <tbody>
        {tasks.map((t) => {
          const target = health.get(t.task_name);
          return (
            <tr key={t.task_name}>
              <th scope="row">{t.task_name}</th>
              {colours && <td>{t.colour}</td>}
              <td>
                <State value={t.last_status} />
              </td>
              <td>
                {target ? <State value={target.health} /> : '—'} {target?.description ?? ''}
              </td>
              <td>{t.task_definition.revision}</td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

function Logs({ client, name }: { client: BerthClient; name: string }) {
  const [following, setFollowing] = useState(false);
  const [lines, setLines] = useState<{ stream: string; message: string }[]>([]);
  const [broken, setBroken] = useState<string | null>(null);
  const box = useRef<HTMLPreElement>(null);
  useEffect(() => {
    if (!following) return;
    setLines([]);
    setBroken(null);
    return followLines(client, 'service', name, {
      line: (stream, message) => setLines((all) => [...all, { stream, message }].slice(-MAX_LOG_LINES)),
      resume: () => setLines([]),
      end: (error) => {
        setBroken(error);
        setFollowing(false);
      },
    });
  }, [client, name, following]);
  useEffect(() => {
    if (box.current) box.current.scrollTop = box.current.scrollHeight;
  }, [lines]);
  return (
    <Panel
      title="Logs"
      actions={
        <button type="button" onClick={() => setFollowing(!following)} aria-pressed={following}>
          {following ? 'Stop following' : 'Follow logs'}
        </button>
      }
    >
      <ErrorNote message={broken} />
      <pre class="logs" ref={box} tabIndex={0} aria-label="log lines">
        {lines.map((l, i) => (
          <div key={i}>
            <span class="stream">{l.stream}</span> {l.message}
          </div>
        ))}
      </pre>
    </Panel>
  );
}

/** Deployments, with what changed from the revision before each (variable names only). */
function History({ revisions, deployments }: { revisions: Revision[]; deployments: Deployment[] }) {
  // Each colour numbers its own revisions.
  const byNumber = useMemo(() => new Map(revisions.map((r) => [`${r.colour ?? ''}:${r.number}`, r])), [revisions]);
  return (
    <Panel title="Deploy history">
      <ol class="plain">
        {deployments.map((d) => {
          const now = byNumber.get(`${d.colour ?? ''}:${d.revision}`);
          const before = d.previous_revision === null ? undefined : byNumber.get(`${d.colour ?? ''}:${d.previous_revision}`);
          return (
            <li key={d.id}>
              <Time iso={d.created_at} /> {d.colour !== undefined && <span class="colour">{d.colour}</span>} revision {d.revision} <State value={d.step} /> {d.reason ?? ''}
              {now && <Diff before={before} now={now} />}
            </li>
          );
        })}
      </ol>
    </Panel>
  );
}

function Diff({ before, now }: { before: Revision | undefined; now: Revision }) {
  const changes: string[] = [];
  const keys = ['image', 'replicas', 'memory_reservation', 'memory_limit', 'container_port'] as const;
  for (const key of keys) if (!before || before[key] !== now[key]) changes.push(`${key.replace('_', ' ')}: ${before ? `${before[key]} → ` : ''}${now[key]}`);
  if ((before?.command ?? null)?.join(' ') !== now.command?.join(' ')) changes.push(`command: ${now.command?.join(' ') ?? "the image's"}`);
  const added = now.environment_names.filter((n) => !before?.environment_names.includes(n));
  const removed = (before?.environment_names ?? []).filter((n) => !now.environment_names.includes(n));
  if (added.length) changes.push(`variables added: ${added.join(', ')}`);
  if (removed.length) changes.push(`variables removed: ${removed.join(', ')}`);
  return changes.length ? (
    <ul class="diff">
      {changes.map((c) => (
        <li key={c}>{c}</li>
      ))}
    </ul>
  ) : null;
}
