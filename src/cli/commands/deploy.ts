import { Option, type Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { EnvFileError, parseEnvFile, type BerthClient, type EnvEntry, type ServiceDefinition } from '../../client/index.js';
import { connect } from '../config.js';
import type { CliContext } from '../context.js';
import { watchDeployment } from '../deployment-watch.js';
import { CliError, EXIT_USAGE, UsageError } from '../errors.js';
import { collect, integerIn, LIMITS, positiveNumber } from '../options.js';
import { examples, printJson, styleFor } from '../output.js';

interface DeployOptions {
  image?: string;
  tag?: string;
  memoryReservation: number;
  memoryLimit: number;
  port: number;
  env?: string[];
  envFile?: string;
  secret?: string[];
  db?: string[];
  replicas?: number;
  node?: string;
  constraint?: string[];
  colourSpread?: boolean;
  detach?: boolean;
  timeout: number;
  json?: boolean;
  colour?: string;
}

/** How a command that starts a deployment waits for it: deploy, redeploy. */
export interface WaitFlags {
  readonly detach?: boolean;
  readonly timeout: number;
  readonly json?: boolean;
}

const DEFAULT_WAIT_SECONDS = 900;

export function registerDeploy(program: Command, ctx: CliContext): void {
  const memory = integerIn(LIMITS.minMemoryMiB, LIMITS.maxMemoryMiB);
  program
    .command('deploy')
    .description('Send a new service definition and wait until its deployment has finished')
    .argument('<name>', 'the service')
    .argument('[command...]', 'the container command and its arguments, after --')
    .addOption(new Option('--image <ref>', 'any image reference the engine can run').conflicts('tag'))
    .addOption(new Option('--tag <tag>', "a tag in the service's own repository (see 'berth push')").conflicts('image'))
    .requiredOption('--memory-reservation <MiB>', 'memory reserved for each task', memory)
    .requiredOption('--memory-limit <MiB>', 'hard memory limit of each task', memory)
    .requiredOption('--port <port>', 'HTTP port the container listens on', integerIn(1, LIMITS.port))
    .option('--env <NAME=VALUE>', 'an environment variable; repeat for more; wins over --env-file', collect)
    .option('--env-file <file>', 'NAME=VALUE lines; blank lines and # comments are skipped')
    .option('--secret <NAME=VALUE>', 'a variable stored encrypted and never shown again; repeat for more', collect)
    .option('--db <name>', "a database of the project: the tasks get DATABASE_URL (or REDIS_URL) and the engine's variables (PGHOST…); repeat for more", collect)
    .option('--replicas <n>', 'number of tasks (server default 1)', integerIn(1, LIMITS.replicas))
    .option('--node <name>', 'run every task on this node (its host name or id; on Docker Swarm)')
    .option('--constraint <expr>', "a Swarm placement constraint such as 'node.labels.gpu==yes'; repeat for more", collect)
    .option('--colour-spread', "with --colour: run this colour on other nodes than the service's other colours (on Docker Swarm)")
    .option('-d, --detach', 'print the revision and deployment id and return without waiting')
    .option('--timeout <seconds>', 'give up waiting after this long', positiveNumber, DEFAULT_WAIT_SECONDS)
    .option('--json', 'print {"name", "revision", "deployment"} (the finished deployment unless --detach); progress goes to stderr')
    .option('--colour <name>', "deploy into this colour (blue/green): the service's first colour goes live, later ones wait for 'berth switch'")
    .addHelpText(
      'after',
      examples(
        'berth deploy web --tag latest --memory-reservation 100 --memory-limit 150 --port 80 --env-file web.env',
        'berth deploy web --image nginx:1.27 --memory-reservation 32 --memory-limit 64 --port 80 --replicas 2 --env MODE=prod',
        "berth deploy worker --image busybox:1.36 --memory-reservation 8 --memory-limit 16 --port 8080 -- httpd -f -p 8080",
        "berth deploy model --tag v3 --memory-reservation 4000 --memory-limit 6000 --port 80 --constraint 'node.labels.gpu==yes'",
        'berth deploy nmpi --colour green --tag green --memory-reservation 100 --memory-limit 200 --port 443',
      ) + "\nExits 0 when the deployment succeeded, 1 when it failed, was cancelled or rolled back, or Ctrl-C stopped the wait.\n",
    )
    .action(async (name: string, command: string[], options: DeployOptions) => {
      const definition = buildDefinition(options, checkedCommand(ctx, command), await envFromFlags(undefined, options.envFile));
      const client = await connect(ctx);
      const started = await client.updateService(name, definition, options.colour === undefined ? {} : { colour: options.colour });
      await awaitDeployment(ctx, client, name, started, options);
    });
}

/**
 * Waits for a deployment just started (unless --detach) and says how it ended, and where it
 * serves: at the service's URL, or for a colour not live, with the header or cookie that reaches it.
 */
export async function awaitDeployment(
  ctx: CliContext,
  client: BerthClient,
  name: string,
  started: { readonly revision: number; readonly deployment: number; readonly colour?: string },
  options: WaitFlags,
): Promise<void> {
  const { colour } = started;
  const label = colour === undefined ? name : `${name} colour ${colour}`;
  if (options.detach) {
    if (options.json) printJson(ctx.stdout, started);
    else ctx.stdout.write(`revision ${started.revision}${colour === undefined ? '' : ` of colour ${colour}`}, deployment ${started.deployment}\nFollow it with: berth events ${name} -f${colour === undefined ? '' : ` --colour ${colour}`}\n`);
    return;
  }
  const out = options.json ? ctx.stderr : ctx.stdout;
  const target = { name, revision: started.revision, deployment: started.deployment, ...(colour === undefined ? {} : { colour }) };
  const final = await watchDeployment(ctx, client, target, out, options.timeout * 1000);
  if (options.json) printJson(ctx.stdout, { name, revision: started.revision, deployment: final, ...(colour === undefined ? {} : { colour }) });
  if (final.step !== 'succeeded') {
    throw new CliError(outcomeCode(final.step), `Deployment ${final.id} of revision ${final.revision} ${final.step}: ${final.reason ?? final.step_description}`);
  }
  const doc = await client.getService(name);
  const url = doc.links.find((l) => l.rel === 'deployment')?.href ?? '';
  const style = styleFor(ctx, out);
  const where =
    colour === undefined || doc.status.live_colour === colour
      ? `is ${colour === undefined ? 'serving' : 'live'}${url ? ` at ${url}` : ''}`
      : `is staged: reach it at ${url} with the header 'X-Berth-Colour: ${colour}' or the cookie berth_colour=${colour}; make it live with 'berth switch ${name} ${colour}'`;
  out.write(`${style.green('✓')} deployment ${final.id} succeeded: revision ${final.revision} of ${label} ${where}\n`);
}

export function buildDefinition(options: DeployOptions, command: readonly string[], fileEnv: readonly EnvEntry[]): ServiceDefinition {
  if (options.image === undefined && options.tag === undefined) throw new UsageError("Give the image with --image REF or --tag TAG (an image pushed with 'berth push')");
  return {
    ...(options.image === undefined ? {} : { image: options.image }),
    ...(options.tag === undefined ? {} : { 'container-tag': options.tag }),
    'memory-reservation': options.memoryReservation,
    'memory-limit': options.memoryLimit,
    'container-port': options.port,
    environment: mergeEnv(fileEnv, (options.env ?? []).map(parseEnvFlag)),
    ...(options.replicas === undefined ? {} : { replicas: options.replicas }),
    ...(options.node === undefined ? {} : { node: options.node }),
    ...(options.constraint === undefined ? {} : { constraints: [...options.constraint] }),
    ...(options.colourSpread ? { 'colour-spread': true } : {}),
    ...(command.length === 0 ? {} : { command: [...command] }),
    ...(options.secret ? { secrets: options.secret.map(parseEnvFlag) } : {}),
    ...(options.db ? { databases: [...options.db] } : {}),
  };
}

/** Later entries replace earlier ones of the same name, in the earlier one's place. */
function mergeEnv(base: readonly EnvEntry[], overrides: readonly EnvEntry[]): EnvEntry[] {
  const merged = [...base];
  for (const entry of overrides) {
    const at = merged.findIndex((e) => e.name === entry.name);
    if (at >= 0) merged[at] = entry;
    else merged.push(entry);
  }
  return merged;
}

function parseEnvFlag(flag: string): EnvEntry {
  const eq = flag.indexOf('=');
  if (eq <= 0) throw new UsageError(`--env expects NAME=VALUE, got '${flag}'`);
  return { name: flag.slice(0, eq), value: flag.slice(eq + 1) };
}

/** `--env-file` then `--env` flags, later names replacing earlier ones. */
export async function envFromFlags(flags: readonly string[] | undefined, file: string | undefined): Promise<EnvEntry[]> {
  return mergeEnv(await readEnvFile(file), (flags ?? []).map(parseEnvFlag));
}

async function readEnvFile(file: string | undefined): Promise<EnvEntry[]> {
  if (file === undefined) return [];
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new CliError('BERTH_ENV_FILE_INVALID', `Cannot read --env-file ${file}: ${(error as Error).message}`, EXIT_USAGE);
  }
  try {
    return parseEnvFile(text);
  } catch (error) {
    if (error instanceof EnvFileError) throw new CliError(error.code, `${file}, ${error.message}`, EXIT_USAGE);
    throw error;
  }
}

/** Words after the name count as the container command only behind `--`, so a stray word is not run by mistake. */
function checkedCommand(ctx: CliContext, command: string[]): string[] {
  if (command.length > 0 && !ctx.argv.includes('--')) {
    throw new UsageError(`Unexpected argument '${command[0] ?? ''}'; put the container command after --, e.g. -- ${command.join(' ')}`);
  }
  return command;
}

function outcomeCode(step: string): string {
  switch (step) {
    case 'cancelled':
      return 'BERTH_DEPLOYMENT_CANCELLED';
    case 'superseded':
      return 'BERTH_DEPLOYMENT_SUPERSEDED';
    default:
      return 'BERTH_DEPLOYMENT_FAILED';
  }
}
