import { colourRole } from '../domain/colours.js';
import type { Service } from '../domain/model.js';
import { colouredStatusDoc, statusInput } from './colour-documents.js';
import { colourRow } from './colour-scope.js';
import { serviceSummary, statusDoc } from './documents.js';
import type { ApiDeps } from './ports.js';

/**
 * `GET /services/<name>`'s document: the servicectl status, from the store and the tasks
 * observed now — of the colour named, else of the service (with every colour's, when it has colours).
 */
export async function serviceStatusDoc(deps: Pick<ApiDeps, 'store' | 'observer' | 'publicUrl'>, service: Service, colour?: string) {
  const { store, observer } = deps;
  const status =
    colour !== undefined
      ? statusDoc(await statusInput(store, observer, colourRow(store, service, colour)))
      : colourRole(service) === 'coloured'
        ? await colouredStatusDoc(store, observer, service)
        : statusDoc(await statusInput(store, observer, service));
  return { ...serviceSummary(service, deps.publicUrl), status };
}
