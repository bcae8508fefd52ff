import { PassThrough } from 'node:stream';
import { runCli } from '../../src/cli/main.js';

/** `berth ARGV…` run in this process against `url` with `token`, its output captured. */
export async function runBerth(argv: string[], env: { url: string; token: string; configHome: string }): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli({
    argv,
    stdin: Object.assign(new PassThrough(), { isTTY: false }),
    stdout: { write: (text: string) => (out += text) },
    stderr: { write: (text: string) => (err += text) },
    env: { XDG_CONFIG_HOME: env.configHome, BERTH_URL: env.url, BERTH_TOKEN: env.token },
    onInterrupt: () => () => undefined,
  });
  return { code, out, err };
}
