import type { ServiceDefinition } from '../definition.js';
import type { StrategyName } from '../deployment.js';
import type { ComposeProblem } from './problems.js';
import type { StackServiceSpec, StackSpec } from './stack-spec.js';
import { sameDefinition, stackServiceDefinition, type HostPolicy } from './to-definition.js';

/** What `up` was asked to start: compose's `up [--no-deps] [SERVICE…]` with `--profile`. */
export interface UpSelection {
  /** Compose names; empty: every service whose profiles are active. */
  readonly services: readonly string[];
  readonly noDeps: boolean;
  readonly profiles: readonly string[];
}

/** A service of the stack as the store has it. */
export interface ExistingStackService {
  /** The definition it runs, or is being deployed to; null before its first revision. */
  readonly definition: ServiceDefinition | null;
  readonly running: boolean;
}

export interface UpInput {
  readonly project: string;
  readonly stack: string;
  readonly spec: StackSpec;
  readonly selection: UpSelection;
  /** Images `compose build` pushed, by compose service name. */
  readonly images: Readonly<Record<string, string>>;
  /** The compose file's directory on the server's host: relative bind mounts are below it. */
  readonly directory: string;
  readonly policy: HostPolicy;
  /** The stack's services in the store, by berth name. */
  readonly existing: ReadonlyMap<string, ExistingStackService>;
}

export type UpAction = 'create' | 'update' | 'start' | 'unchanged';

export interface PlannedService {
  readonly spec: StackServiceSpec;
  readonly definition: ServiceDefinition;
  readonly action: UpAction;
  /** A routed service is replaced start-first, with no failed request; any other stop-first. */
  readonly strategy: StrategyName;
}

export interface UpPlan {
  readonly services: readonly PlannedService[];
  readonly warnings: readonly string[];
  /** Stack services in the store the file no longer has (compose's orphans). */
  readonly orphans: readonly string[];
  /** Everything that keeps this `up` from running; empty when it may. */
  readonly problems: readonly ComposeProblem[];
}

/** DNS's limit on one label: `<project>-<stack>-<service>` is a task's name on its networks. */
export const MAX_STACK_SERVICE_NAME = 63;

/**
 * What `up` does to each service it starts: creates it, deploys a changed definition, starts
 * a stopped one, or leaves it alone when nothing changed. Policy refusals (bind mounts, host
 * ports) count only for the services this `up` starts, so a selective `up` of services that
 * need none works on a file whose other services do.
 */
export function planUp(input: UpInput): UpPlan {
  const problems: ComposeProblem[] = [];
  const warnings: string[] = [];
  const chosen = chooseServices(input.spec, input.selection, problems);
  const builtBy = new Map<string, string>();
  for (const s of input.spec.services) {
    const built = input.images[s.composeName];
    if (s.build !== null && s.image !== null && built !== undefined) builtBy.set(s.image, built);
  }
  const planned: PlannedService[] = [];
  for (const spec of input.spec.services) {
    if (!chosen.has(spec.composeName)) continue;
    const at = `services.${spec.composeName}`;
    const qualified = `${input.project}-${spec.name}`;
    if (qualified.length > MAX_STACK_SERVICE_NAME) {
      problems.push({ path: at, message: `berth's name '${qualified}' is ${qualified.length} characters; at most ${MAX_STACK_SERVICE_NAME} fit in a DNS label` });
    }
    const image = imageOf(spec, input.images, builtBy);
    if (image === null) {
      problems.push({ path: at, message: spec.build ? 'builds its image: run berth compose build (or up --build) first' : "has neither 'image' nor 'build'" });
      continue;
    }
    const made = stackServiceDefinition(input.stack, input.spec, spec, image, input.directory, input.policy);
    warnings.push(...made.warnings);
    for (const refusal of made.refusals) problems.push({ path: at, message: refusal });
    const existing = input.existing.get(spec.name);
    planned.push({ spec, definition: made.definition, action: actionFor(existing, made.definition), strategy: strategyFor(made.definition) });
  }
  const named = new Set(input.spec.services.map((s) => s.name));
  const orphans = [...input.existing.keys()].filter((name) => !named.has(name)).sort();
  if (orphans.length > 0) warnings.push(`services no longer in the file keep running: ${orphans.join(', ')}; remove them with up --remove-orphans`);
  return { services: planned, warnings, orphans, problems };
}

/** The services to start: those named and what they depend on (not with noDeps), or every one whose profiles are active. */
function chooseServices(spec: StackSpec, selection: UpSelection, problems: ComposeProblem[]): Set<string> {
  const byName = new Map(spec.services.map((s) => [s.composeName, s]));
  const active = (s: StackServiceSpec) => s.profiles.length === 0 || s.profiles.some((p) => selection.profiles.includes(p));
  const chosen = new Set<string>();
  if (selection.services.length === 0) {
    for (const s of spec.services) if (active(s)) chosen.add(s.composeName);
  } else {
    for (const name of selection.services) {
      if (!byName.has(name)) problems.push({ path: 'services', message: `'${name}' is no service of this file` });
      else chosen.add(name);
    }
  }
  if (!selection.noDeps) {
    const queue = [...chosen];
    for (let name = queue.pop(); name !== undefined; name = queue.pop()) {
      for (const dependency of byName.get(name)?.dependsOn ?? []) {
        if (chosen.has(dependency.service)) continue;
        const other = byName.get(dependency.service);
        // As compose: a dependency whose profile is not active is not started behind the user's back.
        if (other && !active(other)) {
          problems.push({ path: `services.${name}.depends_on`, message: `'${dependency.service}' is only in profiles ${other.profiles.join(', ')}; enable one with --profile` });
          continue;
        }
        chosen.add(dependency.service);
        queue.push(dependency.service);
      }
    }
  }
  return chosen;
}

/** The built image of a service that builds, or of one that names another's built image; else its own `image`. */
function imageOf(spec: StackServiceSpec, images: Readonly<Record<string, string>>, builtBy: ReadonlyMap<string, string>): string | null {
  const built = images[spec.composeName];
  if (spec.build !== null) return built ?? null;
  if (spec.image === null) return null;
  return builtBy.get(spec.image) ?? spec.image;
}

function actionFor(existing: ExistingStackService | undefined, definition: ServiceDefinition): UpAction {
  // A service `compose build` made has no revision yet: this up creates what runs.
  if (!existing || existing.definition === null) return 'create';
  if (!sameDefinition(existing.definition, definition)) return 'update';
  return existing.running ? 'unchanged' : 'start';
}

/** Two tasks of one service may not run at once when they would share a host port, or when nothing routes between them. */
export function strategyFor(definition: ServiceDefinition): StrategyName {
  const stack = definition.stack;
  if (stack === null) return 'start-first';
  return stack.routed && stack.hostPorts.length === 0 ? 'start-first' : 'stop-first';
}
