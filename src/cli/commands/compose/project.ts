import { readFile } from 'node:fs/promises';
import { basename, dirname, isAbsolute, resolve } from 'node:path';
import { parse as parseDotenv } from 'dotenv';
import { parse as parseYaml } from 'yaml';
import { referencedVariables } from '../../../domain/compose/interpolate.js';
import type { ComposeFile } from '../../../domain/compose/load.js';
import { readStack } from '../../../domain/compose/read-stack.js';
import type { StackSpec } from '../../../domain/compose/stack-spec.js';
import { readFileIfExists } from '../../../fs/atomic-file.js';
import type { CliContext } from '../../context.js';
import { UsageError } from '../../errors.js';

/** What every `berth compose` command takes before its own arguments, as `docker compose` does. */
export interface ComposeOptions {
  file?: string[];
  projectName?: string;
  envFile?: string[];
  profile?: string[];
}

/** A compose project as the CLI found it on disk: what `up` sends, and what `build` builds. */
export interface ComposeProject {
  readonly stack: string;
  /** The first file's directory: relative paths in the files are below it. */
  readonly directory: string;
  readonly files: readonly ComposeFile[];
  /** Only the variables the files name, from the shell over .env: the rest of the shell stays here. */
  readonly environment: Readonly<Record<string, string>>;
  /** env_file, secrets and configs files, by the path the files name them with. */
  readonly attachments: Readonly<Record<string, string>>;
  readonly profiles: readonly string[];
  /** The files read as berth reads them (the server checks them again, with its own policy). */
  readonly spec: StackSpec;
}

const DEFAULT_FILES = ['compose.yaml', 'compose.yml', 'docker-compose.yaml', 'docker-compose.yml'];
const MAX_ATTACHMENT_BYTES = 1024 * 1024;

/**
 * Finds and reads the project's files as compose does: `-f` files in order (else COMPOSE_FILE,
 * else compose.yaml or docker-compose.yml and its override file in the working directory),
 * `.env` of the project directory (or --env-file), the stack name from -p, COMPOSE_PROJECT_NAME,
 * the file's top-level `name`, or the directory's name.
 */
export async function readComposeProject(ctx: CliContext, options: ComposeOptions, cwd = process.cwd()): Promise<ComposeProject> {
  const paths = await composeFilePaths(ctx, options, cwd);
  const directory = dirname(paths[0] as string);
  const files: ComposeFile[] = [];
  for (const path of paths) files.push({ name: basename(path), text: await readFile(path, 'utf8') });
  const dotenv = await readEnvFiles(options.envFile?.map((f) => resolve(cwd, f)) ?? [resolve(directory, '.env')], options.envFile !== undefined);
  const wanted = new Set<string>();
  for (const file of files) for (const name of referencedVariables(file.text)) wanted.add(name);
  const parsed = files.map((f) => safeYaml(f.text));
  for (const name of unsetEnvironmentNames(parsed)) wanted.add(name);
  const environment: Record<string, string> = {};
  for (const name of wanted) {
    const value = ctx.env[name] ?? dotenv[name];
    if (value !== undefined) environment[name] = value;
  }
  const attachments = await readAttachments(directory, parsed);
  const stack = stackName(options.projectName ?? ctx.env.COMPOSE_PROJECT_NAME ?? topLevelName(parsed) ?? basename(directory));
  const profiles = options.profile ?? ctx.env.COMPOSE_PROFILES?.split(',').filter(Boolean) ?? [];
  // Read for what the CLI needs (builds, names); the server checks the schema, with its line numbers.
  const spec = readStack({ stack, files, environment, attachments, checkSchema: false });
  return { stack, directory, files, environment, attachments, profiles, spec };
}

/** Compose's project name rule, with `_` as `-` too: a stack's name is part of its services' DNS names. */
export function stackName(text: string): string {
  const name = text
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^[^a-z]+/, '')
    .replace(/-+$/, '');
  if (name === '') throw new UsageError(`'${text}' makes no stack name: give one with -p NAME`);
  return name;
}

async function composeFilePaths(ctx: CliContext, options: ComposeOptions, cwd: string): Promise<string[]> {
  const given = options.file ?? ctx.env.COMPOSE_FILE?.split(':').filter(Boolean);
  if (given && given.length > 0) return given.map((f) => (isAbsolute(f) ? f : resolve(cwd, f)));
  for (const name of DEFAULT_FILES) {
    const path = resolve(cwd, name);
    if ((await readFileIfExists(path)) === null) continue;
    const override = resolve(cwd, name.replace(/\.(ya?ml)$/, '.override.$1'));
    return (await readFileIfExists(override)) === null ? [path] : [path, override];
  }
  throw new UsageError(`No compose file here (${DEFAULT_FILES.join(', ')}): give one with -f FILE`);
}

async function readEnvFiles(paths: readonly string[], required: boolean): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const path of paths) {
    const text = await readFileIfExists(path);
    if (text === null) {
      if (required) throw new UsageError(`--env-file ${path}: no such file`);
      continue;
    }
    Object.assign(out, parseDotenv(text));
  }
  return out;
}

/** Files the compose files name (env_file, secrets, configs), read relative to the project directory. */
async function readAttachments(directory: string, parsed: readonly unknown[]): Promise<Record<string, string>> {
  const names = new Set<string>();
  for (const doc of parsed) {
    const top = asRecord(doc);
    for (const service of Object.values(asRecord(top.services))) {
      const envFile = asRecord(service).env_file;
      for (const entry of Array.isArray(envFile) ? envFile : envFile === undefined ? [] : [envFile]) {
        const path = typeof entry === 'string' ? entry : asRecord(entry).path;
        if (typeof path === 'string') names.add(path);
      }
    }
    for (const kind of ['secrets', 'configs']) {
      for (const item of Object.values(asRecord(top[kind]))) {
        const file = asRecord(item).file;
        if (typeof file === 'string') names.add(file);
      }
    }
  }
  const out: Record<string, string> = {};
  for (const name of names) {
    const text = await readFileIfExists(resolve(directory, name));
    if (text === null) continue;
    if (Buffer.byteLength(text) > MAX_ATTACHMENT_BYTES) throw new UsageError(`${name} is larger than ${MAX_ATTACHMENT_BYTES / 1024} KiB`);
    out[name] = text;
  }
  return out;
}

/** `environment: [DEBUG]` or `{DEBUG: }`: the value comes from the shell compose runs in. */
function unsetEnvironmentNames(parsed: readonly unknown[]): string[] {
  const names: string[] = [];
  for (const doc of parsed) {
    for (const service of Object.values(asRecord(asRecord(doc).services))) {
      const environment = asRecord(service).environment;
      if (Array.isArray(environment)) for (const entry of environment) if (typeof entry === 'string' && !entry.includes('=')) names.push(entry);
      if (!Array.isArray(environment)) for (const [name, value] of Object.entries(asRecord(environment))) if (value === null) names.push(name);
    }
  }
  return names;
}

function topLevelName(parsed: readonly unknown[]): string | undefined {
  const names = parsed.map((doc) => asRecord(doc).name).filter((n): n is string => typeof n === 'string');
  return names[names.length - 1];
}

/** Read for names only; a file that is not YAML is reported by readStack, with its line. */
function safeYaml(text: string): unknown {
  try {
    return parseYaml(text, { merge: true });
  } catch {
    return {};
  }
}

function asRecord(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}
