import { ColourUnhealthyError, type ColourSwitch } from '../domain/colours.js';
import { ConflictError } from '../domain/errors.js';
import type { Service } from '../domain/model.js';
import { contextRoot } from '../domain/names.js';
import type { Route } from '../gateway/gateway.js';
import type { FaultPoints } from './fault-points.js';
import type { RoutePublisher } from './route-publisher.js';

/**
 * A switch is one route table write: the service's route takes the targets its colour's line
 * already has in the table the gateway serves. Then the store records it. A kill between the
 * two (fault point `switch:routed`) leaves the store with the colour that was live, and the
 * first table the next server makes from the store serves that colour again: the gateway,
 * status and audit trail agree on one of the two, never a mix (ADR 011).
 */
export class ColourSwitcher implements ColourSwitch {
  constructor(
    private readonly routes: RoutePublisher,
    private readonly faults: FaultPoints,
    /** Asks for a pass: the table is made again from the store, whatever the switch's outcome. */
    private readonly kick: () => void,
  ) {}

  async switchLive(service: Service, colour: string, options: { readonly force: boolean; readonly commit: () => void }): Promise<void> {
    const prefix = contextRoot(service.project, service.name);
    const edit = (table: readonly Route[]): Route[] => {
      const at = table.findIndex((route) => route.prefix === prefix);
      const route = table[at];
      const line = route?.colours?.find((c) => c.colour === colour);
      if (route === undefined || line === undefined) {
        throw new ConflictError(`The gateway does not serve colour '${colour}' of '${service.name}' yet; try again in a moment`);
      }
      if (line.targets.length === 0 && !options.force) {
        throw new ColourUnhealthyError(`Colour '${colour}' of '${service.name}' has no healthy task in the gateway; switch with force to send live traffic to it anyway`);
      }
      return table.map((r, i) => (i === at ? { ...r, targets: line.targets } : r));
    };
    try {
      await this.routes.change(edit, () => {
        this.faults.hit('switch:routed');
        options.commit();
      });
    } finally {
      this.kick();
    }
  }
}
