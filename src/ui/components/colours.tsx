import { useState } from 'preact/hooks';
import type { BerthClient, ServiceStatusDoc } from '../../client/berth-client.js';
import { BerthApiError } from '../../client/errors.js';
import { describeError } from '../api.js';
import { ErrorNote, Panel, State } from './bits.js';

type ColourStatus = NonNullable<ServiceStatusDoc['status']['colours']>[number];

/**
 * A service's colours (blue/green, ADR 011): each one's state, which one is live, and a button
 * that moves live traffic to another once confirmed (a misclick must not move production).
 * A colour refused for having no healthy task can then be switched to anyway, as
 * `berth switch --force` does. The page learns the new live colour from its live stream, as
 * any other client would see it; the switch's answer only says how long it took.
 */
export function Colours({ client, name, colours }: { client: BerthClient; name: string; colours: readonly ColourStatus[] }) {
  const [switching, setSwitching] = useState<string | null>(null);
  /** The colour whose switch waits for confirmation, and whether it would be forced. */
  const [asked, setAsked] = useState<{ colour: string; force: boolean } | null>(null);
  const [note, setNote] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  const switchTo = async (colour: string, force: boolean): Promise<void> => {
    setAsked(null);
    setSwitching(colour);
    setError(null);
    setNote(null);
    try {
      const result = await client.switchColour(name, colour, force ? { force: true } : {});
      setNote(result.switched ? `Live traffic moved from ${result.previous_colour} to ${result.live_colour} in ${result.took_ms.toFixed(1)} ms.` : `${result.live_colour} was live already.`);
    } catch (e) {
      setError(describeError(e));
      if (e instanceof BerthApiError && e.code === 'BERTH_COLOUR_UNHEALTHY') setAsked({ colour, force: true });
    } finally {
      setSwitching(null);
    }
  };

  return (
    <Panel title="Colours">
      <ErrorNote message={error} />
      <p role="status" class="note">
        {note ?? ''}
      </p>
      <table class="list">
        <thead>
          <tr>
            <th scope="col">Colour</th>
            <th scope="col">Live</th>
            <th scope="col">Status</th>
            <th scope="col">Revision</th>
            <th scope="col">Running</th>
            <th scope="col">Healthy</th>
            <th scope="col">
              <span class="visually-hidden">Switch</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {colours.map((c) => (
            <tr key={c.colour} class={c.live ? 'live' : undefined}>
              <th scope="row">{c.colour}</th>
              <td>{c.live ? <span class="live-mark">live</span> : '—'}</td>
              <td>
                <State value={c.crash_looping ? 'crash-looping' : c.service_status} />
              </td>
              <td>{c.current_revision ?? '—'}</td>
              <td>
                {c.count_running}/{c.count_desired}
              </td>
              <td>{c.target_health.targets.filter((t) => t.health === 'healthy').length}</td>
              <td>
                {!c.live && asked?.colour === c.colour ? (
                  <span class="confirm">
                    {asked.force ? `No healthy task: switch to ${c.colour} anyway?` : `Move live traffic to ${c.colour}?`}{' '}
                    <button type="button" autoFocus onClick={() => void switchTo(c.colour, asked.force)}>
                      {asked.force ? 'Switch anyway' : 'Switch now'}
                    </button>{' '}
                    <button type="button" onClick={() => setAsked(null)}>
                      Cancel
                    </button>
                  </span>
                ) : (
                  !c.live && (
                    <button type="button" disabled={switching !== null} onClick={() => setAsked({ colour: c.colour, force: false })}>
                      {switching === c.colour ? `Switching to ${c.colour}…` : `Switch to ${c.colour}`}
                    </button>
                  )
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </Panel>
  );
}
