// Builds the dashboard (src/ui) into dist/ui: one JavaScript bundle and one stylesheet
// (esbuild), and the page that loads them. The server serves the directory at /ui/.
import { build } from 'esbuild';
import { copyFile, mkdir, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist', 'ui');
const staging = `${out}.new`;

await rm(staging, { recursive: true, force: true });
await mkdir(staging, { recursive: true });
await build({
  entryPoints: { app: join(root, 'src/ui/main.tsx') },
  bundle: true,
  outdir: staging,
  format: 'esm',
  target: 'es2020',
  jsx: 'automatic',
  jsxImportSource: 'preact',
  minify: true,
  sourcemap: true,
  legalComments: 'none',
  logLevel: 'warning',
});
await copyFile(join(root, 'src/ui/index.html'), join(staging, 'index.html'));
// Replaced whole: a server never serves half of an old build and half of a new one.
await rm(out, { recursive: true, force: true });
await rename(staging, out);
