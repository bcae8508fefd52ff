import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { BerthClient } from '../../../client/index.js';
import type { StackServiceSpec } from '../../../domain/compose/stack-spec.js';
import type { CliContext } from '../../context.js';
import { docker, dockerOutput, pushWithCredentials } from '../../docker-cli.js';
import { UsageError } from '../../errors.js';
import type { ComposeProject } from './project.js';

const STEP_MS = 3_600_000;

/** The name compose gives a built image: its `image`, else `<project>-<service>`. */
export function localImageName(project: ComposeProject, service: StackServiceSpec): string {
  return service.image ?? `${project.stack}-${service.composeName.toLowerCase()}`;
}

/**
 * `compose build` (and the build part of `up`): builds each service that has `build` with the
 * local engine, a service whose Dockerfile starts FROM another's image after that one, tags it
 * with compose's name so the next build can use it as a base, and pushes it to the stack's own
 * repository for that service. `always`: build even when the engine has the image already.
 * Answers the pushed images by digest, by compose name, for `up` to run.
 */
export async function buildAndPush(ctx: CliContext, client: BerthClient, project: ComposeProject, names: readonly string[], always: boolean): Promise<Record<string, string>> {
  const building = project.spec.services.filter((s) => s.build !== null && (names.length === 0 || names.includes(s.composeName)));
  for (const name of names) {
    const service = project.spec.services.find((s) => s.composeName === name);
    if (!service) throw new UsageError(`'${name}' is no service of this stack`);
  }
  if (building.length === 0) return {};
  const ordered = await buildOrder(project, building);
  const credentials = await client.stacks.credentials(project.stack, ordered.map((s) => s.composeName));
  const images: Record<string, string> = {};
  for (const service of ordered) {
    const build = service.build as NonNullable<StackServiceSpec['build']>;
    const local = localImageName(project, service);
    const creds = credentials.services[service.composeName];
    if (!creds) throw new UsageError(`the server gave no credentials for ${service.composeName}`);
    const known = await dockerOutput(['image', 'inspect', '--format', '{{.Id}}', local]);
    if (always || known === null) {
      ctx.stderr.write(`berth: building ${service.composeName} (${local})\n`);
      const args = ['build', '-t', local];
      if (build.dockerfile) args.push('-f', resolve(project.directory, build.context, build.dockerfile));
      for (const [name, value] of Object.entries(build.args)) args.push('--build-arg', `${name}=${value}`);
      if (build.target) args.push('--target', build.target);
      args.push(resolve(project.directory, build.context));
      await docker('build', args, STEP_MS);
    }
    const reference = `${creds.repo_uri}:latest`;
    await docker('tag', ['tag', local, reference], STEP_MS);
    images[service.composeName] = await pushWithCredentials(reference, creds, STEP_MS, (line) => ctx.stderr.write(`berth: ${service.composeName}: ${line}\n`));
    ctx.stderr.write(`berth: ${service.composeName}: pushed ${images[service.composeName]}\n`);
  }
  return images;
}

/** A service whose Dockerfile builds FROM another service's image comes after it. */
async function buildOrder(project: ComposeProject, services: readonly StackServiceSpec[]): Promise<StackServiceSpec[]> {
  const byImage = new Map(services.map((s) => [localImageName(project, s), s]));
  const bases = new Map<string, StackServiceSpec[]>();
  for (const service of services) {
    const build = service.build as NonNullable<StackServiceSpec['build']>;
    const file = resolve(project.directory, build.context, build.dockerfile ?? 'Dockerfile');
    // A missing Dockerfile names no base here; the build itself then says what is missing.
    const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return '';
      throw error;
    });
    const froms = [...text.matchAll(/^\s*FROM\s+(?:--\S+\s+)*(\S+)/gim)].map((m) => m[1] as string);
    bases.set(service.composeName, froms.flatMap((image) => byImage.get(image) ?? byImage.get(image.replace(/:latest$/, '')) ?? []));
  }
  const ordered: StackServiceSpec[] = [];
  const visit = (service: StackServiceSpec, path: readonly string[]): void => {
    if (ordered.includes(service)) return;
    if (path.includes(service.composeName)) throw new UsageError(`the Dockerfiles build FROM each other in a cycle: ${[...path, service.composeName].join(' → ')}`);
    for (const base of bases.get(service.composeName) ?? []) if (base !== service) visit(base, [...path, service.composeName]);
    ordered.push(service);
  };
  for (const service of services) visit(service, []);
  return ordered;
}
