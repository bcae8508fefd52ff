import { mkdtempSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { configPath, loadConnection, resolveConnection, saveConnection } from '../../src/cli/config.js';
import { CliError } from '../../src/cli/errors.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'berth-cli-config-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('the login config', () => {
  it('lives under XDG_CONFIG_HOME, or ~/.config without it', () => {
    expect(configPath({ XDG_CONFIG_HOME: '/x', HOME: '/home/u' })).toBe('/x/berth/config.json');
    expect(configPath({ XDG_CONFIG_HOME: '', HOME: '/home/u' })).toBe('/home/u/.config/berth/config.json');
    expect(configPath({ HOME: '/home/u' })).toBe('/home/u/.config/berth/config.json');
  });

  it('is written with mode 0600 in a 0700 directory, replacing the old file whole', async () => {
    const file = configPath({ XDG_CONFIG_HOME: dir });
    await saveConnection(file, { url: 'http://a:1', token: 'one' });
    await saveConnection(file, { url: 'http://b:2', token: 'two' });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'berth')).mode & 0o777).toBe(0o700);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ url: 'http://b:2', token: 'two' });
    expect(await loadConnection(file)).toEqual({ url: 'http://b:2', token: 'two' });
  });

  it('is overridden field by field by BERTH_URL and BERTH_TOKEN', async () => {
    await saveConnection(configPath({ XDG_CONFIG_HOME: dir }), { url: 'http://stored:1', token: 'stored' });
    const env = { XDG_CONFIG_HOME: dir };
    expect(await resolveConnection(env)).toEqual({ url: 'http://stored:1', token: 'stored' });
    expect(await resolveConnection({ ...env, BERTH_TOKEN: 'env' })).toEqual({ url: 'http://stored:1', token: 'env' });
    expect(await resolveConnection({ ...env, BERTH_URL: 'http://env:2', BERTH_TOKEN: '' })).toEqual({ url: 'http://env:2', token: 'stored' });
  });

  it('says how to log in when nothing is configured, and what is wrong with a broken file', async () => {
    await expect(resolveConnection({ XDG_CONFIG_HOME: dir })).rejects.toMatchObject({ code: 'BERTH_NOT_LOGGED_IN', exitCode: 2 });
    await expect(resolveConnection({ XDG_CONFIG_HOME: dir, BERTH_URL: 'http://x:1' })).rejects.toThrow(/No token configured/);
    mkdirSync(join(dir, 'berth'));
    writeFileSync(join(dir, 'berth', 'config.json'), '{broken');
    const error = await resolveConnection({ XDG_CONFIG_HOME: dir }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CliError);
    expect(error).toMatchObject({ code: 'BERTH_CONFIG_INVALID' });
  });
});
