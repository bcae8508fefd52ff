import { stackProbe } from '../domain/compose/stack-settings.js';
import type { ServiceDefinition } from '../domain/definition.js';
import type { Deployment, Service } from '../domain/model.js';
import { contextRoot } from '../domain/names.js';
import type { Target } from '../gateway/gateway.js';
import { reachPort } from '../runtime/task-runtime.js';
import type { Store } from '../store/store.js';
import type { OwnedRoute, ProbedTask } from './controller.js';
import type { LabelledContainer } from './labels.js';
import type { ServiceHealth } from './service-health.js';

/** What the service controller read of the store this pass, as the routes need it. */
export interface ServicesRead {
  services(): readonly Service[];
  openDeployments(serviceId: number): readonly Deployment[];
  definition(serviceId: number, revision: number): ServiceDefinition | null;
  isStopping(containerId: string): boolean;
}

const NO_TASKS: readonly LabelledContainer[] = [];

/**
 * The gateway's view of services: one route per service at its context root, to its healthy
 * tasks, and the tasks berth's prober checks. A route the gateway refuses is told on its service.
 */
export class ServiceRoutes {
  /** The reason each service's route is left out of the gateway's table, as last told in its events. */
  private readonly rejections = new Map<number, string>();

  constructor(
    private readonly store: Store,
    private readonly health: ServiceHealth,
  ) {}

  routes(read: ServicesRead, tasks: ReadonlyMap<number, readonly LabelledContainer[]>, adopted: ReadonlySet<string> | null): { routes: OwnedRoute[]; monitored: ProbedTask[] } {
    const routes: OwnedRoute[] = [];
    const monitored: ProbedTask[] = [];
    const colours = coloursByService(read.services());
    for (const service of read.services()) {
      // A colour is served on its service's route.
      if (service.status === 'DRAINING' || service.colourOf !== null) continue;
      const prefix = contextRoot(service.project, service.name);
      const owner = { kind: 'service' as const, id: service.id, label: `${service.project}/${service.name}` };
      if (service.liveColour !== null) {
        const served = (colours.get(service.id) ?? []).map((colour) => ({
          colour: colour.colour as string,
          ...this.serve(read, colour, tasks.get(colour.id) ?? NO_TASKS, adopted, monitored),
        }));
        const live = served.find((c) => c.colour === service.liveColour);
        routes.push({
          prefix,
          targets: live?.targets ?? [],
          taskIds: live?.taskIds ?? [],
          colours: served.map(({ colour, targets, taskIds }) => ({ colour, targets, taskIds })),
          owner,
        });
        continue;
      }
      const { targets, taskIds, served } = this.serve(read, service, tasks.get(service.id) ?? NO_TASKS, adopted, monitored);
      // A stack service without ports is reached only inside its stack.
      if (served?.stack?.routed === false || (served === null && service.stackId !== null)) continue;
      routes.push({ prefix, targets, taskIds, ...(served?.stack?.stripPrefix ? { stripPrefix: true } : {}), owner });
    }
    return { routes, monitored };
  }

  /**
   * A service's (or a colour's) healthy tasks of the revision it serves, and the tasks to probe,
   * added to `monitored`; `served` is the definition it serves (a deployment's before its first).
   */
  private serve(
    read: ServicesRead,
    service: Service,
    tasks: readonly LabelledContainer[],
    adopted: ReadonlySet<string> | null,
    monitored: ProbedTask[],
  ): { targets: Target[]; taskIds: string[]; served: ServiceDefinition | null } {
    const root = contextRoot(service.project, service.name);
    const deployment = read.openDeployments(service.id)[0];
    const targets: Target[] = [];
    const taskIds: string[] = [];
    let served = service.currentRevision === null ? null : read.definition(service.id, service.currentRevision);
    for (const c of tasks) {
      if (c.container.state !== 'running' || !c.container.address || read.isStopping(c.container.id)) continue;
      const definition = read.definition(service.id, c.revision);
      if (!definition || definition.stack?.routed === false) continue;
      served ??= definition;
      // Where the task serves it: its own address and port, or a port published on its node.
      const port = reachPort(c.container, definition.containerPort);
      const isCurrent = c.revision === service.currentRevision;
      if ((isCurrent || c.revision === deployment?.revision) && this.health.probed(definition, c)) {
        const check = definition.stack ? stackProbe(definition.stack) : service.healthCheck;
        // An app served with its prefix stripped lives at its root, and is asked there.
        const path = definition.stack?.stripPrefix ? check.relPath : joinPath(root, check.relPath);
        monitored.push({ task: c.task, host: c.container.address, port, path, check });
      }
      const health = this.health.of(definition, c);
      // Right after a start the prober knows nothing yet: a task that served before the
      // start keeps serving until its first probe, so a restart never empties a route.
      const unprobed = health.state === 'initial' && health.description === undefined;
      if (isCurrent && (health.state === 'healthy' || (unprobed && adopted?.has(c.container.id)))) {
        targets.push({ host: c.container.address, port });
        taskIds.push(c.container.id);
      }
    }
    return { targets, taskIds, served };
  }

  /**
   * A route the gateway left out (a path another project's service already holds, say) is
   * told on its own service, once per reason; every other service is served as usual.
   */
  rejected(serviceId: number, reason: string | null): void {
    if (reason === null) {
      this.rejections.delete(serviceId);
      return;
    }
    if (this.rejections.get(serviceId) === reason) return;
    this.rejections.set(serviceId, reason);
    const service = this.store.services.byId(serviceId);
    if (service) this.store.events.add(serviceId, `the gateway does not serve ${contextRoot(service.project, service.name)}: ${reason}`);
  }
}

/** Each service's colours that are not being terminated, by the service's id, oldest first. */
function coloursByService(services: readonly Service[]): Map<number, Service[]> {
  const colours = new Map<number, Service[]>();
  for (const service of services) {
    if (service.colourOf === null || service.status === 'DRAINING') continue;
    const list = colours.get(service.colourOf);
    if (list) list.push(service);
    else colours.set(service.colourOf, [service]);
  }
  return colours;
}

export function joinPath(root: string, relPath: string): string {
  return relPath === '/' ? `${root}/` : `${root}${relPath.startsWith('/') ? '' : '/'}${relPath}`;
}
