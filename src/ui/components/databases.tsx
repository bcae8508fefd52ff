import { useEffect, useState } from 'preact/hooks';
import type { BerthClient } from '../../client/berth-client.js';
import type { DatabaseStatus, DatabaseSummary } from '../../client/databases.js';
import { describeError, readDetails, type Detailed } from '../api.js';
import { ErrorNote, Panel, State, Time } from './bits.js';

type DatabaseRow = Detailed<DatabaseSummary, DatabaseStatus>;

/**
 * The project's managed databases at a glance: whether each runs, and whether its last backup
 * was proven by restoring it (a failed verification is shown as plainly as a crash).
 */
export function Databases({ client }: { client: BerthClient }) {
  const [rows, setRows] = useState<DatabaseRow[]>([]);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    (async () => {
      const list = await client.databases.list();
      if (!live) return;
      setRows(list.map((summary) => ({ item: summary, detail: null })));
      const read = await readDetails(list, (summary) => client.databases.get(summary.name));
      if (live) setRows(read);
    })().catch((e: unknown) => live && setError(describeError(e)));
    return () => {
      live = false;
    };
  }, [client]);
  if (rows.length === 0 && error === null) return null;
  return (
    <Panel title="Databases">
      <ErrorNote message={error} />
      <table class="list">
        <thead>
          <tr>
            <th scope="col">Database</th>
            <th scope="col">Status</th>
            <th scope="col">Last backup</th>
            <th scope="col">Next backup</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => (
            <DatabaseLine key={row.item.name} row={row} />
          ))}
        </tbody>
      </table>
    </Panel>
  );
}

function DatabaseLine({ row }: { row: DatabaseRow }) {
  const { item: summary, detail: status } = row;
  const last = status?.last_backup ?? null;
  return (
    <tr>
      <th scope="row">
        {summary.name} <span class="muted">{summary.engine}</span>
      </th>
      <td>
        <State value={summary.status} />
      </td>
      {row.error !== undefined ? (
        <td colSpan={2} class="error">
          {row.error}
        </td>
      ) : (
        <>
          <td>
            {status === null ? '…' : last === null ? 'none yet' : (
              <>
                <State value={last.status} /> <Time iso={last.finished_at ?? last.created_at} />
                {last.status === 'failed' && last.reason !== null && <span class="error"> {last.reason}</span>}
              </>
            )}
          </td>
          <td>{status === null ? '…' : status.next_backup_at === null ? 'not scheduled' : <Time iso={status.next_backup_at} />}</td>
        </>
      )}
    </tr>
  );
}
