import { useState } from 'preact/hooks';
import { describeError, signIn, type Session } from '../api.js';
import { ErrorNote } from '../components/bits.js';

/**
 * Sign in with a project token (or the admin token). The token goes to the server once and
 * is forgotten: the session is an HttpOnly cookie no script can read.
 */
export function SignIn({ onSignedIn }: { onSignedIn: (session: Session) => void }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const session = await signIn(token.trim());
      setToken('');
      onSignedIn(session);
    } catch (e) {
      setError(describeError(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="sign-in">
      <h1>berth</h1>
      <form onSubmit={submit}>
        <label for="token">Project token</label>
        <input id="token" name="token" type="password" autoComplete="off" value={token} onInput={(e) => setToken((e.target as HTMLInputElement).value)} required autoFocus />
        <button type="submit" disabled={busy || token.trim() === ''}>
          Sign in
        </button>
        <ErrorNote message={error} />
      </form>
    </main>
  );
}
