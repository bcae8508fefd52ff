import { useEffect, useState } from 'preact/hooks';
import type { BerthClient, JobSummary, ServiceStatusDoc } from '../../client/berth-client.js';
import type { StackSummary } from '../../client/stacks.js';
import { describeError, readDetails, type Detailed } from '../api.js';
import { ErrorNote, Panel, ProgressBar, State } from '../components/bits.js';
import { Databases } from '../components/databases.js';

type ServiceRow = Detailed<{ readonly name: string }, ServiceStatusDoc>;

/** Health at a glance: every service, stack, database and job of the project. */
export function Overview({ client }: { client: BerthClient }) {
  const [services, setServices] = useState<ServiceRow[] | null>(null);
  const [stacks, setStacks] = useState<StackSummary[]>([]);
  const [jobs, setJobs] = useState<JobSummary[]>([]);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    (async () => {
      const [names, stackList, jobList] = await Promise.all([client.listServices(), client.stacks.list(), client.listJobs({ limit: 20 })]);
      if (!live) return;
      setStacks(stackList);
      setJobs(jobList);
      setServices(names.map((s) => ({ item: s, detail: null })));
      const rows = await readDetails(names, (s) => client.getService(s.name));
      if (live) setServices(rows);
    })().catch((e: unknown) => live && setError(describeError(e)));
    return () => {
      live = false;
    };
  }, [client]);
  return (
    <main>
      <ErrorNote message={error} />
      <Panel title="Services">
        {services === null ? (
          <p>Loading…</p>
        ) : services.length === 0 ? (
          <p>No services yet.</p>
        ) : (
          <table class="list">
            <thead>
              <tr>
                <th scope="col">Service</th>
                <th scope="col">Status</th>
                <th scope="col">Healthy</th>
                <th scope="col">Deployment</th>
              </tr>
            </thead>
            <tbody>
              {services.map((s) => (
                <ServiceLine key={s.item.name} row={s} />
              ))}
            </tbody>
          </table>
        )}
      </Panel>
      {stacks.length > 0 && (
        <Panel title="Stacks">
          <ul class="plain">
            {stacks.map((s) => (
              <li key={s.name}>
                <strong>{s.name}</strong> · {s.services} services · revision {s.revision} <State value={s.status} />
              </li>
            ))}
          </ul>
        </Panel>
      )}
      <Databases client={client} />
      <Panel title="Jobs">
        {jobs.length === 0 ? (
          <p>No jobs yet.</p>
        ) : (
          <ul class="plain">
            {jobs.map((j) => (
              <li key={j.id}>
                <a href={`#/jobs/${j.id}`}>job {j.id}</a> <State value={j.status} /> {(j.command ?? []).join(' ')}
                {j.progress && <ProgressBar done={j.progress.done} total={j.progress.total} message={j.progress.message} />}
              </li>
            ))}
          </ul>
        )}
      </Panel>
    </main>
  );
}

function ServiceLine({ row }: { row: ServiceRow }) {
  const name = row.item.name;
  const status = row.detail?.status;
  const targets = status?.target_health.targets ?? [];
  const healthy = targets.filter((t) => t.health === 'healthy').length;
  if (row.error !== undefined) {
    return (
      <tr>
        <th scope="row">{name}</th>
        <td colSpan={3} class="error">
          {row.error}
        </td>
      </tr>
    );
  }
  const state = status === undefined ? '…' : status.crash_looping ? 'crash-looping' : status.count_running >= status.count_desired && status.count_desired > 0 ? 'running' : status.count_desired === 0 ? 'idle' : 'starting';
  return (
    <tr>
      <th scope="row">
        <a href={`#/services/${encodeURIComponent(name)}`}>{name}</a>
      </th>
      <td>
        <State value={state} />
      </td>
      <td>{status === undefined ? '…' : `${healthy}/${status.count_desired}`}</td>
      <td>{status?.deployment ? <State value={status.deployment.step} /> : '—'}</td>
    </tr>
  );
}
