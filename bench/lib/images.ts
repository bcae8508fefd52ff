import { join } from 'node:path';
import { docker } from './docker.js';
import { run } from './process.js';

/** The demo image (busybox httpd) under the bench's own tag, so concurrent test runs that rebuild theirs do not move it. */
export const HELLO_IMAGE = 'berth-bench/hello:1';
/** A keep-alive capable upstream (nginx in an empty root) for the gateway bench. */
export const UPSTREAM_IMAGE = 'berth-bench/upstream:1';

const REPO = join(import.meta.dirname, '../..');

/** Builds both images from local files (nothing is pulled); the previous build of a tag is removed. */
export async function buildBenchImages(): Promise<void> {
  await rebuild(HELLO_IMAGE, join(REPO, 'scripts/build-demo-image.sh'));
  await rebuild(UPSTREAM_IMAGE, join(import.meta.dirname, 'build-upstream-image.sh'));
}

async function rebuild(tag: string, script: string): Promise<void> {
  const before = await imageId(tag);
  await run('bash', [script, tag], { timeoutMs: 120_000 });
  const after = await imageId(tag);
  if (before && before !== after) {
    // A container still using the old image keeps it; that is fine.
    await docker(['rmi', before]).catch(() => undefined);
  }
}

async function imageId(tag: string): Promise<string | null> {
  try {
    return await docker(['image', 'inspect', '-f', '{{.Id}}', tag]);
  } catch {
    return null;
  }
}
