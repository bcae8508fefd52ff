import type { Service } from '../domain/model.js';
import { serviceSummary, statusDoc } from './documents.js';
import type { ApiDeps } from './ports.js';

const EVENTS_IN_STATUS = 25;
const LAST_EXIT_LINES = 10;

/** `GET /services/<name>`'s document: the servicectl status, from the store and the tasks observed now. */
export async function serviceStatusDoc(deps: Pick<ApiDeps, 'store' | 'observer' | 'publicUrl'>, service: Service) {
  const { store } = deps;
  return {
    ...serviceSummary(service, deps.publicUrl),
    status: statusDoc({
      service,
      revisions: new Map(store.revisions.list(service.id).map((r) => [r.number, r])),
      tasks: await deps.observer.tasks(service.id),
      events: store.events.list(service.id, EVENTS_IN_STATUS),
      deployment: store.deployments.latest(service.id),
      lastExitLogs: (store.taskLogs.list(service.id, 1)[0]?.lines ?? []).slice(-LAST_EXIT_LINES).map((l) => l.message),
    }),
  };
}
