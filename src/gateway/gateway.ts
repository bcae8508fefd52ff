/**
 * The Gateway port. The reconciler tells it, for every served path prefix,
 * which targets are healthy; the gateway never lists an unhealthy target.
 */
export interface Target {
  readonly host: string;
  readonly port: number;
}

export interface Route {
  /** e.g. "/exp-2-web": matches "/exp-2-web" and "/exp-2-web/…", never "/exp-2-webx". */
  readonly prefix: string;
  /** Empty: the service exists but has no healthy task, so the gateway answers 503. */
  readonly targets: readonly Target[];
}

export interface Gateway {
  /** Replaces the whole route table. Resolves once the data plane serves it. */
  setRoutes(routes: readonly Route[]): Promise<void>;
}
