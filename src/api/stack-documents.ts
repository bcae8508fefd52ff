import { isCrashLooping } from '../domain/backoff.js';
import { isTerminal } from '../domain/deployment.js';
import type { Deployment, Service } from '../domain/model.js';
import type { ObservedTask, TaskObserver } from '../domain/observed.js';
import type { Stack } from '../store/stacks.js';
import type { Store } from '../store/store.js';
import { stackServiceUrl } from './stack-apply.js';
import type { StackDocT } from './stack-schemas.js';

type ServiceDocT = StackDocT['services'][number];

const LAST_EXIT_LINES = 10;

/** `compose ps`: each service of the file, with what runs of it. */
export async function stackDoc(stack: Stack, store: Store, observer: TaskObserver, publicUrl: string): Promise<StackDocT> {
  const members = new Map(store.services.ofStack(stack.id).map((s) => [s.name, s]));
  const services: ServiceDocT[] = [];
  for (const spec of stack.spec.services) {
    const service = members.get(spec.name);
    members.delete(spec.name);
    services.push(service ? await memberDoc(service, spec.composeName, store, observer, publicUrl) : notCreated(spec.composeName, spec.name));
  }
  // Services the file no longer has (orphans), and those `compose build` made before the first `up`.
  for (const service of members.values()) services.push(await memberDoc(service, service.name.slice(stack.name.length + 1), store, observer, publicUrl));
  return {
    name: stack.name,
    revision: stack.revision,
    status: stack.status,
    services,
    networks: stack.spec.networks.map((n) => (n.external === null ? n.key : `${n.key} (external: ${n.external})`)),
    volumes: stack.spec.volumes.map((v) => (v.external === null ? v.key : `${v.key} (external: ${v.external})`)),
    created_at: new Date(stack.createdAt).toISOString(),
    updated_at: new Date(stack.updatedAt).toISOString(),
  };
}

async function memberDoc(service: Service, composeName: string, store: Store, observer: TaskObserver, publicUrl: string): Promise<ServiceDocT> {
  const tasks = await observer.tasks(service.id);
  const deployment = store.deployments.latest(service.id);
  const open = deployment !== null && !isTerminal(deployment.step) ? deployment : null;
  const revision = open?.revision ?? service.currentRevision;
  const definition = revision === null ? null : (store.revisions.get(service.id, revision)?.definition ?? null);
  const wanted = tasks.filter((t) => t.desiredStatus === 'RUNNING');
  const running = wanted.filter((t) => t.lastStatus === 'RUNNING');
  const state = stateOf(service, open, running.length, definition?.replicas ?? 0);
  const failing = state === 'crash-looping' || state === 'exited' || deployment?.step === 'failed';
  return {
    name: composeName,
    service: service.name,
    state,
    health: healthOf(running),
    replicas: { desired: service.desiredState === 'running' && service.status !== 'DRAINING' ? (definition?.replicas ?? 0) : 0, running: running.length },
    url: definition?.stack?.routed ? stackServiceUrl(publicUrl, service.project, service.name) : null,
    image: definition?.image ?? null,
    ports: (definition?.stack?.hostPorts ?? []).map((p) => `${p.hostIp ?? '0.0.0.0'}:${p.published}->${p.target}/${p.protocol}`),
    tasks: tasks.map((t) => ({ name: t.taskName, status: t.lastStatus, health: t.health, created_at: t.createdAt.toISOString() })),
    last_exit: service.lastExit,
    last_exit_logs: failing ? (store.taskLogs.list(service.id, 1)[0]?.lines ?? []).slice(-LAST_EXIT_LINES).map((l) => l.message) : [],
    deployment: deployment ? { id: deployment.id, step: deployment.step, reason: deployment.reason } : null,
  };
}

function notCreated(composeName: string, name: string): ServiceDocT {
  return {
    name: composeName,
    service: name,
    state: 'not created',
    health: '-',
    replicas: { desired: 0, running: 0 },
    url: null,
    image: null,
    ports: [],
    tasks: [],
    last_exit: null,
    last_exit_logs: [],
    deployment: null,
  };
}

/** One word for what a user asks first: is it up, and if not, why not. */
export function stateOf(service: Service, open: Deployment | null, running: number, replicas: number): string {
  if (service.status === 'DRAINING') return 'removing';
  if (service.desiredState !== 'running') return service.desiredState;
  if (isCrashLooping(service)) return 'crash-looping';
  if (open) return 'deploying';
  if (service.currentRevision === null) return 'created';
  return running >= replicas ? 'running' : 'starting';
}

function healthOf(running: readonly ObservedTask[]): string {
  if (running.length === 0) return '-';
  if (running.some((t) => t.health === 'unhealthy')) return 'unhealthy';
  if (running.every((t) => t.health === 'healthy')) return 'healthy';
  return 'starting';
}
