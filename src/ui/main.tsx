import { render } from 'preact';
import { useEffect, useMemo, useState } from 'preact/hooks';
import { clientFor, currentSession, describeError, signOut, type Session } from './api.js';
import { ErrorNote } from './components/bits.js';
import { JobPage } from './pages/job.js';
import { Overview } from './pages/overview.js';
import { ServicePage } from './pages/service.js';
import { SignIn } from './pages/sign-in.js';
import './styles.css';

type Route = { page: 'overview' } | { page: 'service'; name: string } | { page: 'job'; id: number };

/** Pages are addressed after the #, so the server serves one file and nothing of a page's state is in a request path. */
function routeOf(hash: string): Route {
  const service = /^#\/services\/([^/]+)$/.exec(hash);
  if (service) return { page: 'service', name: decodeURIComponent(service[1] as string) };
  const job = /^#\/jobs\/(\d+)$/.exec(hash);
  if (job) return { page: 'job', id: Number(job[1]) };
  return { page: 'overview' };
}

function App() {
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const [project, setProject] = useState<string | null>(null);
  const [route, setRoute] = useState<Route>(routeOf(window.location.hash));
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    currentSession().then((s) => {
      setSession(s);
      if (s) setProject(s.project ?? s.projects[0] ?? null);
    }, (e: unknown) => setError(describeError(e)));
    const onHash = () => setRoute(routeOf(window.location.hash));
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);
  // The admin picks a project; a project's session is its own project.
  const client = useMemo(() => clientFor(session?.kind === 'admin' ? project : null), [session, project]);
  if (session === undefined) return <main>{error ? <ErrorNote message={error} /> : <p>Loading…</p>}</main>;
  if (session === null)
    return (
      <SignIn
        onSignedIn={(s) => {
          setSession(s);
          setProject(s.project ?? s.projects[0] ?? null);
        }}
      />
    );
  return (
    <>
      <nav class="top">
        <a href="#/" class="brand">
          berth
        </a>
        {session.kind === 'admin' ? (
          <label>
            Project{' '}
            <select value={project ?? ''} onChange={(e) => setProject((e.target as HTMLSelectElement).value)}>
              {session.projects.map((p) => (
                <option key={p} value={p}>
                  {p}
                </option>
              ))}
            </select>
          </label>
        ) : (
          <span class="project">{session.project}</span>
        )}
        <button
          type="button"
          onClick={async () => {
            await signOut();
            setSession(null);
            window.location.hash = '';
          }}
        >
          Sign out
        </button>
      </nav>
      {project === null ? (
        <main>
          <p>No project yet.</p>
        </main>
      ) : route.page === 'service' ? (
        <ServicePage key={`${project}/${route.name}`} client={client} project={session.kind === 'admin' ? project : null} name={route.name} />
      ) : route.page === 'job' ? (
        <JobPage key={`${project}/${route.id}`} client={client} id={route.id} />
      ) : (
        <Overview key={project} client={client} />
      )}
    </>
  );
}

render(<App />, document.getElementById('app') as HTMLElement);
