import { useEffect, useState } from 'preact/hooks';
import type { BerthClient, Job } from '../../client/berth-client.js';
import { parseProgressLine } from '../../domain/progress.js';
import { describeError, followLines } from '../api.js';
import { ErrorNote, Panel, ProgressBar, State } from '../components/bits.js';

/** A job: its state, its progress bar moving with its output, and the output itself. */
export function JobPage({ client, id }: { client: BerthClient; id: number }) {
  const [job, setJob] = useState<Job | null>(null);
  const [progress, setProgress] = useState<{ done: number; total: number; message: string | null } | null>(null);
  const [lines, setLines] = useState<string[]>([]);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    client.getJob(id).then((j) => {
      setJob(j);
      if (j.progress) setProgress(j.progress);
    }, (e: unknown) => setError(describeError(e)));
    // The job's own output carries its progress; the stream ends when the job does.
    return followLines(client, 'job', String(id), {
      line: (_stream, message) => {
        const p = parseProgressLine(message);
        if (p) setProgress({ done: p.done, total: p.total, message: p.message });
        else setLines((all) => [...all, message].slice(-500));
      },
      resume: () => setLines([]),
      // The stream ends when the job has: its final state is read once then.
      end: (broken) => {
        if (broken !== null) setError(broken);
        else void client.getJob(id).then(setJob, (e: unknown) => setError(describeError(e)));
      },
    });
  }, [client, id]);
  return (
    <main>
      <h1 class="page-title">
        job {id} {job && <State value={job.status} />}
      </h1>
      <ErrorNote message={error} />
      {job && (
        <p>
          {(job.command ?? []).join(' ')} · {job.service ?? job.image} · attempts {job.attempts}
          {job.exit_code !== null ? ` · exit code ${job.exit_code}` : ''} {job.reason ?? ''}
        </p>
      )}
      {progress && <ProgressBar done={progress.done} total={progress.total} message={progress.message} />}
      <Panel title="Output">
        <pre class="logs" tabIndex={0}>
          {lines.join('\n')}
        </pre>
      </Panel>
    </main>
  );
}
