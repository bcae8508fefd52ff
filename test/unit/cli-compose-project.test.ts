import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readComposeProject, stackName } from '../../src/cli/commands/compose/project.js';
import type { CliContext } from '../../src/cli/context.js';

let root: string;
let dir: string;

function ctx(env: Record<string, string> = {}): CliContext {
  return { argv: [], stdout: { write: () => true }, stderr: { write: () => true }, stdin: process.stdin, env, onInterrupt: () => () => undefined };
}

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'berth-compose-project-'));
  dir = join(root, 'My_Project');
  mkdirSync(dir);
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe('readComposeProject', () => {
  it('finds the file and its override here, names the stack after the directory, and sends only the variables the files name', async () => {
    writeFileSync(join(dir, 'docker-compose.yml'), 'services:\n  web:\n    image: "web:${TAG:-1}"\n    environment: [DEBUG, "MODE=${MODE}"]\n');
    writeFileSync(join(dir, 'docker-compose.override.yml'), 'services:\n  web:\n    env_file: web.env\n');
    writeFileSync(join(dir, 'web.env'), 'A=1\n');
    writeFileSync(join(dir, '.env'), 'MODE=from-dotenv\nTAG=2\nUNUSED=x\n');
    const project = await readComposeProject(ctx({ TAG: '3', DEBUG: '1', HOME: '/root', AWS_SECRET_ACCESS_KEY: 'nope' }), {}, dir);
    expect(project.stack).toBe('my-project');
    expect(project.files.map((f) => f.name)).toEqual(['docker-compose.yml', 'docker-compose.override.yml']);
    // The shell wins over .env; nothing the files do not name leaves the machine.
    expect(project.environment).toEqual({ TAG: '3', MODE: 'from-dotenv', DEBUG: '1' });
    expect(project.attachments).toEqual({ 'web.env': 'A=1\n' });
    expect(project.spec.services[0]?.environment).toEqual([
      { name: 'A', value: '1' },
      { name: 'DEBUG', value: '1' },
      { name: 'MODE', value: 'from-dotenv' },
    ]);
  });

  it('takes -f files in order, -p and --env-file over the defaults', async () => {
    writeFileSync(join(dir, 'base.yml'), 'name: fromfile\nservices:\n  a: {image: "x:${V}"}\n');
    writeFileSync(join(dir, 'prod.yml'), 'services:\n  a: {mem_limit: 64m}\n');
    writeFileSync(join(dir, 'prod.env'), 'V=9\n');
    const named = await readComposeProject(ctx(), { file: ['base.yml', 'prod.yml'], envFile: ['prod.env'] }, dir);
    expect(named.stack).toBe('fromfile');
    expect(named.spec.services[0]).toMatchObject({ image: 'x:9', memoryLimitMiB: 64 });
    expect((await readComposeProject(ctx(), { file: ['base.yml'], projectName: 'Other' }, dir)).stack).toBe('other');
    await expect(readComposeProject(ctx(), { file: ['base.yml'], envFile: ['missing.env'] }, dir)).rejects.toThrow(/--env-file .*missing\.env: no such file/);
  });

  it('says so when there is no compose file', async () => {
    await expect(readComposeProject(ctx(), {}, dir)).rejects.toThrow(/No compose file here/);
  });
});

describe('stackName', () => {
  it('follows compose, with _ as - and a letter first', () => {
    expect(stackName('KGE_Server')).toBe('kge-server');
    expect(stackName('2024.sip')).toBe('sip');
    expect(() => stackName('___')).toThrow(/makes no stack name/);
  });
});
