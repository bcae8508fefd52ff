import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Service } from '../../src/domain/model.js';
import { berth as runBerth, cliSetup, cliTeardown, SUCCESS, walkNextDeployment, type CliSetup, type Run } from '../support/cli-harness.js';

let setup: CliSetup;

beforeEach(async () => {
  setup = await cliSetup();
  expect((await berth(['create', 'nmpi'])).code).toBe(0);
});
afterEach(async () => cliTeardown(setup));

function berth(argv: string[]): Promise<Run> {
  return runBerth(setup, argv);
}

function colourRow(colour: string): Service | null {
  const store = setup.h.store;
  return store.services.colourOf(store.services.find('exp', 'nmpi')?.id ?? 0, colour);
}

const deployArgs = (colour: string): string[] => ['deploy', 'nmpi', '--colour', colour, '--tag', colour, '--memory-reservation', '16', '--memory-limit', '32', '--port', '443'];

/** Deploys a colour through the CLI while standing in for the reconciler; the colour then serves revision 1. */
async function deployColour(colour: string): Promise<Run> {
  const walk = walkNextDeployment(setup.h, () => colourRow(colour)?.id ?? -1, SUCCESS);
  const run = await berth(deployArgs(colour));
  await walk;
  setup.h.store.services.setCurrentRevision(colourRow(colour)?.id ?? 0, 1);
  return run;
}

/** Every row's one running, healthy task of revision 1, as the observer shows it. */
function healthyTasks(): void {
  setup.h.observer.taskList = [
    { taskName: 'nmpi-x-1a2b', revision: 1, createdAt: new Date(0), desiredStatus: 'RUNNING', lastStatus: 'RUNNING', image: '127.0.0.1:5000/exp/nmpi:x', ip: '10.0.0.2', health: 'healthy', healthDescription: null },
  ];
}

describe('berth deploy --colour, services, switch, terminate, redeploy', () => {
  it('deploys the first colour live and the next one staged, saying how to reach it and how to make it live', async () => {
    const blue = await deployColour('blue');
    expect(blue).toMatchObject({ code: 0, err: '' });
    expect(blue.out).toMatch(/✓ deployment \d+ succeeded: revision 1 of nmpi colour blue is live at http:\/\/gw\.example:8080\/exp-nmpi\n$/);
    const green = await deployColour('green');
    expect(green.out).toMatch(/revision 1 of nmpi colour green is staged: reach it at http:\/\/gw\.example:8080\/exp-nmpi with the header 'X-Berth-Colour: green' or the cookie berth_colour=green; make it live with 'berth switch nmpi green'\n$/);
    // The deployment's progress shows the colour.
    expect(green.out).toContain('reached health-wait');
  });

  it('lists every colour as NMPI’s table does, and as JSON', async () => {
    await deployColour('blue');
    await deployColour('green');
    expect((await berth(['create', 'web'])).code).toBe(0);
    healthyTasks();
    const table = await berth(['services']);
    const lines = table.out.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^NAME\s+IMAGE\s+STATUS\s+URL\s+ID\s+NODE\s+PORTS$/);
    expect(lines[1]).toMatch(/^nmpi-blue\s+127\.0\.0\.1:5000\/exp\/nmpi:x\s+live\s+http:\/\/gw\.example:8080\/exp-nmpi\s+nmpi-x-1a2b\s+local\s+443\/tcp$/);
    expect(lines[2]).toMatch(/^nmpi-green\s+\S+\s+running\s+/);
    expect(lines[3]).toMatch(/^web\s+/);
    const json = JSON.parse((await berth(['services', '--json'])).out);
    expect(json[1]).toEqual({
      name: 'nmpi-green',
      service: 'nmpi',
      colour: 'green',
      live: false,
      image: '127.0.0.1:5000/exp/nmpi:x',
      status: 'running',
      url: 'http://gw.example:8080/exp-nmpi',
      ids: ['nmpi-x-1a2b'],
      node: 'local',
      ports: ['443/tcp'],
    });
    expect(json[2]).toMatchObject({ name: 'web', colour: null, live: null });
  });

  it('switches and switches back, refuses the live colour’s termination, and names unknown colours', async () => {
    await deployColour('blue');
    await deployColour('green');
    healthyTasks();
    const to = await berth(['switch', 'nmpi', 'green']);
    expect(to.out).toMatch(/^✓ nmpi: green is live \(was blue\), switched in [\d.]+ ms; switch back with 'berth switch nmpi blue'\n$/);
    expect((await berth(['switch', 'nmpi', 'green'])).out).toBe('nmpi: green is live already\n');
    expect(await berth(['terminate', 'nmpi', '--colour', 'green'])).toMatchObject({ code: 1, err: expect.stringMatching(/^berth: BERTH_COLOUR_LIVE: /) });
    expect(await berth(['switch', 'nmpi', 'purple'])).toMatchObject({ code: 1, err: expect.stringMatching(/^berth: BERTH_COLOUR_NOT_FOUND: .*its colours: blue, green/) });
    expect(JSON.parse((await berth(['switch', 'nmpi', 'blue', '--json'])).out)).toMatchObject({ live_colour: 'blue', previous_colour: 'green', switched: true });
    expect((await berth(['terminate', 'nmpi', '--colour', 'green'])).out).toBe('Terminating nmpi colour green: its tasks stop, its revisions and logs go\n');
    expect(colourRow('green')?.status).toBe('DRAINING');
    expect(await berth(['terminate', 'nmpi'])).toMatchObject({ code: 2, err: expect.stringMatching(/--colour/) });
  });

  it('redeploys a colour, and says it needs one for a service with colours', async () => {
    await deployColour('blue');
    expect((await berth(['redeploy', 'nmpi', '--colour', 'blue', '-d'])).out).toBe('revision 2 of colour blue, deployment 2\nFollow it with: berth events nmpi -f --colour blue\n');
    expect(await berth(['redeploy', 'nmpi', '-d'])).toMatchObject({ code: 1, err: expect.stringMatching(/^berth: BERTH_COLOUR_CONFLICT: .*--colour/) });
  });

  it('writes a colour’s logs to a file, and shows colours in status and events', async () => {
    await deployColour('blue');
    await deployColour('green');
    healthyTasks();
    setup.h.observer.streams = [{ taskName: 'nmpi-green-1a2b', createdAt: 0, lines: [{ time: new Date(1000), message: 'ready' }] }];
    const file = join(setup.configHome, 'green.log');
    expect((await berth(['logs', 'nmpi', '--colour', 'green', '--output', file])).out).toBe(`wrote 1 line(s) of 1 task(s) to ${file}\n`);
    expect(readFileSync(file, 'utf8')).toBe('nmpi-green-1a2b | 1970-01-01T00:00:01.000Z | ready\n');
    expect(await berth(['logs', 'nmpi', '--output', file, '-f'])).toMatchObject({ code: 2 });
    expect(await berth(['logs', 'nmpi', '--colour', 'Green'])).toMatchObject({ code: 1, err: expect.stringMatching(/^berth: BERTH_INVALID_COLOUR: /) });

    const status = (await berth(['status', 'nmpi'])).out;
    expect(status).toMatch(/Live\s+colour blue/);
    expect(status).toMatch(/COLOUR\s+LIVE\s+REVISION\s+RUNNING\/DESIRED\s+DEPLOYMENT\n\s+blue\s+live\s+1\s+1\/1\s+succeeded\n\s+green\s+-\s+1/);
    expect((await berth(['events', 'nmpi'])).out).toMatch(/\[green\] revision 1 created \(tag green, 1 × 32 MiB\)/);
    expect((await berth(['events', 'nmpi', '--colour', 'blue'])).out).not.toContain('[green]');
  });
});
