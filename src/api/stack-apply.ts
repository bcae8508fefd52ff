import { loadCompose, type ComposeFile } from '../domain/compose/load.js';
import { planUp, type PlannedService, type UpPlan } from '../domain/compose/plan-up.js';
import { InvalidComposeError, type ComposeProblem } from '../domain/compose/problems.js';
import { readStack } from '../domain/compose/read-stack.js';
import { stackFileKey, type StackSpec } from '../domain/compose/stack-spec.js';
import type { HostPolicy } from '../domain/compose/to-definition.js';
import { BadRequestError, ConflictError, StackNameTakenError, StackTooLargeError } from '../domain/errors.js';
import { DEFAULT_HEALTH_CHECK } from '../domain/health-check.js';
import { ownedRepository, parseImageReference, type OwnRegistry } from '../domain/image-reference.js';
import type { Service } from '../domain/model.js';
import { contextRoot } from '../domain/names.js';
import { secretOwner, type SecretStore } from '../secrets/secret-store.js';
import type { AuditTrail } from '../store/audit.js';
import type { Stack } from '../store/stacks.js';
import type { Store } from '../store/store.js';
import type { PutStackBodyT } from './stack-schemas.js';

/** What an `up` needs of the server besides the store. */
export interface StackUpDeps {
  readonly store: Store;
  readonly audit: AuditTrail;
  readonly ownRegistry: OwnRegistry | null;
  readonly hostPolicy: HostPolicy;
  /** The real path of a host path (symlinks followed), or null when nothing is there. */
  readonly realPath: (path: string) => Promise<string | null>;
  readonly capacityMiB: () => Promise<number>;
  /** Where the stack's secrets are kept, sealed; its configs stay in the store as they are. */
  readonly secrets: SecretStore;
  readonly metrics: { admissionRefused(kind: 'stack'): void };
}

export interface UpResult {
  readonly stack: Stack | null;
  readonly plan: UpPlan;
  /** The deployment each changed service got, by berth name. */
  readonly deployments: Readonly<Record<string, number>>;
  readonly removed: readonly string[];
  readonly config: unknown;
}

/**
 * `compose up` (and, with dryRun, `compose config`): reads the files, plans what changes, and
 * refuses the whole `up` with every problem listed when anything in it cannot run; otherwise
 * stores the stack's new revision and each changed service's revision and deployment in one
 * transaction, which the reconciler then carries out.
 */
export async function stackUp(deps: StackUpDeps, project: string, name: string, body: PutStackBodyT, dryRun: boolean, actor: string): Promise<UpResult> {
  const { store } = deps;
  const files: ComposeFile[] = [...(body.compose === undefined ? [] : [{ name: 'compose.yaml', text: body.compose }]), ...(body.files ?? [])];
  if (files.length === 0) throw new BadRequestError("Send the compose file as 'compose' (or several as 'files')");
  const environment = body.environment ?? {};
  const attachments = body.attachments ?? {};
  const spec = readStack({ stack: name, files, environment, attachments });
  const existingStack = store.stacks.find(project, name);
  if (existingStack?.status === 'DRAINING') throw new ConflictError(`Stack '${name}' is being taken down; wait for it to go`);
  const members = existingStack ? store.services.ofStack(existingStack.id) : [];
  for (const s of spec.services) assertNameFree(store, project, name, existingStack?.id ?? null, s.composeName, s.name);
  const directory = body.directory ?? '/';
  const plan = planUp({
    project,
    stack: name,
    spec,
    selection: { services: body.services ?? [], noDeps: body.no_deps ?? false, profiles: body.profiles ?? [] },
    images: body.images ?? {},
    directory,
    policy: deps.hostPolicy,
    existing: new Map(members.map((m) => [m.name, { definition: servedDefinition(store, m), running: m.desiredState === 'running' && m.status !== 'DRAINING' }])),
  });
  const problems = [...plan.problems, ...missingExternals(store, project, plan.services), ...(await bindMountProblems(deps, plan.services))];
  if (problems.length > 0) throw new InvalidComposeError(problems);
  for (const s of plan.services) ownedRepository(project, parseImageReference(s.definition.image as string), deps.ownRegistry);
  await checkFits(deps, spec, plan, members);
  if (dryRun) return { stack: existingStack, plan, deployments: {}, removed: [], config: loadCompose(files, environment).config };

  const removeOrphans = body.remove_orphans === true;
  const result = store.transaction(() => {
    const stack = store.stacks.save(project, name, { files, variables: Object.keys(environment).sort(), directory, profiles: body.profiles ?? [] }, spec);
    const contents = (kind: 'secret' | 'config') => spec.files.filter((f) => f.kind === kind).map((f) => [f.name, attachments[f.source] ?? ''] as const);
    store.stacks.setFiles(stack.id, Object.fromEntries(contents('config').map(([n, content]) => [stackFileKey('config', n), content])));
    deps.secrets.replaceOwner(secretOwner.stack(stack.id), new Map(contents('secret')));
    const deployments: Record<string, number> = {};
    for (const planned of plan.services) {
      const id = applyService(store, project, stack, planned);
      if (id !== null) deployments[planned.spec.name] = id;
    }
    const removed: string[] = [];
    if (removeOrphans) {
      for (const orphan of members.filter((m) => plan.orphans.includes(m.name) && m.status !== 'DRAINING')) {
        store.services.setStatus(orphan.id, 'DRAINING');
        store.events.add(orphan.id, `removed by compose up --remove-orphans: stack '${name}' no longer has it`);
        removed.push(orphan.name);
      }
    }
    const changed = plan.services.filter((s) => s.action !== 'unchanged').map((s) => `${s.spec.composeName} (${s.action})`);
    deps.audit.record({ actor, action: 'stack.up', target: `${project}/${name}`, detail: `revision ${stack.revision}: ${changed.join(', ') || 'nothing changed'}${removed.length ? `; removed ${removed.join(', ')}` : ''}` });
    return { stack, deployments, removed };
  });
  return { ...result, plan, config: null };
}

/** A stack's service takes no name of a service outside the stack, nor of a database (a host name on the project's network). */
export function assertNameFree(store: Store, project: string, stack: string, stackId: number | null, composeName: string, berthName: string): void {
  const other = store.services.find(project, berthName);
  if (other && (stackId === null || other.stackId !== stackId)) {
    throw new StackNameTakenError(`Service '${composeName}' of stack '${stack}' would be berth's service '${berthName}', which exists outside this stack`);
  }
  if (store.databases.find(project, berthName)) {
    throw new StackNameTakenError(`Service '${composeName}' of stack '${stack}' would be berth's service '${berthName}', the name of a database of this project`);
  }
}

/** Creates, deploys or starts one service of the stack; answers the deployment it got, if any. */
function applyService(store: Store, project: string, stack: Stack, planned: PlannedService): number | null {
  const { spec, definition, action, strategy } = planned;
  if (action === 'unchanged') return null;
  const service = store.services.find(project, spec.name) ?? store.services.create(project, spec.name, DEFAULT_HEALTH_CHECK, stack.id);
  if (action === 'create') store.events.add(service.id, `service created by stack '${stack.name}'`);
  store.services.setDesiredState(service.id, 'running');
  if (action === 'start') {
    store.services.resetCrashes(service.id);
    store.events.add(service.id, `started by compose up (stack '${stack.name}' revision ${stack.revision})`);
    return null;
  }
  const revision = store.revisions.add(service.id, definition);
  const deployment = store.deployments.create(service.id, revision.number, service.currentRevision, strategy);
  store.events.add(
    service.id,
    `revision ${revision.number} created by stack '${stack.name}' revision ${stack.revision} (${definition.image}, ${definition.replicas} × ${definition.memoryLimitMiB} MiB, ${strategy})`,
    deployment.id,
  );
  return deployment.id;
}

/** The definition a stack service runs or is being deployed to: what `up` compares the file's with. */
function servedDefinition(store: Store, service: Service) {
  const open = store.deployments.open(service.id);
  const revision = open[open.length - 1]?.revision ?? service.currentRevision;
  return revision === null ? null : (store.revisions.get(service.id, revision)?.definition ?? null);
}

/** An external network or volume is the project's own, made before with berth network/volume create. */
function missingExternals(store: Store, project: string, services: readonly PlannedService[]): ComposeProblem[] {
  const problems: ComposeProblem[] = [];
  const told = new Set<string>();
  for (const s of services) {
    const stack = s.definition.stack;
    if (stack === null) continue;
    const wanted = [
      ...stack.networks.filter((n) => n.external !== null).map((n) => ({ kind: 'network' as const, name: n.external as string })),
      ...stack.mounts.filter((m) => m.kind === 'volume' && m.external).map((m) => ({ kind: 'volume' as const, name: m.source })),
    ];
    for (const { kind, name } of wanted) {
      const exists = kind === 'network' ? store.networks.exists(project, name) : store.volumes.exists(project, name);
      if (exists || told.has(`${kind}:${name}`)) continue;
      told.add(`${kind}:${name}`);
      problems.push({ path: `services.${s.spec.composeName}.${kind}s`, message: `external ${kind} '${name}' does not exist in this project; make it with berth ${kind} create ${name}` });
    }
  }
  return problems;
}

/** Where the engine listens: a task given its socket controls the host and every project on it. */
const ENGINE_SOCKETS = ['/run/docker.sock', '/var/run/docker.sock'];

/** Bind mounts by their real paths: a symlink inside an allowed directory may not lead out of it. */
async function bindMountProblems(deps: StackUpDeps, services: readonly PlannedService[]): Promise<ComposeProblem[]> {
  const problems: ComposeProblem[] = [];
  for (const s of services) {
    for (const mount of s.definition.stack?.mounts ?? []) {
      if (mount.kind !== 'bind') continue;
      const real = await deps.realPath(mount.source);
      const at = `services.${s.spec.composeName}.volumes`;
      if (real === null) problems.push({ path: at, message: `bind mount source ${mount.source} does not exist on the server` });
      else if (ENGINE_SOCKETS.some((socket) => socket === real || socket.startsWith(`${real.replace(/\/+$/, '')}/`))) {
        problems.push({ path: at, message: `bind mount ${mount.source} holds the Docker engine's socket, which would give the task the whole host` });
      } else if (!deps.hostPolicy.bindMountDirs.some((dir) => real === dir || real.startsWith(`${dir.replace(/\/+$/, '')}/`))) {
        problems.push({ path: at, message: `bind mount ${mount.source} leads to ${real}, outside the directories the server allows` });
      }
    }
  }
  return problems;
}

/** A stack whose services together reserve more than berth may ever reserve can never run: refused now, not left waiting. */
async function checkFits(deps: StackUpDeps, spec: StackSpec, plan: UpPlan, members: readonly Service[]): Promise<void> {
  const planned = new Map(plan.services.map((s) => [s.spec.name, s.definition.memoryReservationMiB * s.definition.replicas]));
  let total = 0;
  for (const s of spec.services) {
    const member = members.find((m) => m.name === s.name);
    const kept = member && member.desiredState === 'running' ? servedDefinition(deps.store, member) : null;
    total += planned.get(s.name) ?? (kept ? kept.memoryReservationMiB * kept.replicas : 0);
  }
  const capacity = await deps.capacityMiB();
  if (total > capacity) {
    deps.metrics.admissionRefused('stack');
    throw new StackTooLargeError(`The stack's services reserve ${total} MiB together; berth may reserve ${capacity} MiB in all. Lower their mem_reservation or replicas`);
  }
}

/** The gateway address of a routed stack service. */
export function stackServiceUrl(publicUrl: string, project: string, service: string): string {
  return `${publicUrl}${contextRoot(project, service)}/`;
}
