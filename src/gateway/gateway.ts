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
  /** The target receives the path without the prefix (an app that cannot live under one). */
  readonly stripPrefix?: boolean;
  /**
   * A service with colours: each colour's healthy targets, served to a request that names the
   * colour (header X-Berth-Colour, cookie berth_colour); `targets` are the live colour's, served
   * to every other request.
   */
  readonly colours?: readonly ColourTargets[];
}

export interface ColourTargets {
  readonly colour: string;
  readonly targets: readonly Target[];
}

/** A route the gateway left out of its table, and why. */
export interface RouteRejection {
  /** Its position in the routes given. */
  readonly index: number;
  readonly prefix: string;
  readonly reason: string;
}

export interface Gateway {
  /**
   * Replaces the whole route table. Resolves once the data plane serves it, with the routes
   * it left out: a bad route never keeps the others from being served.
   */
  setRoutes(routes: readonly Route[]): Promise<readonly RouteRejection[]>;
}

/**
 * The gateway's side of TLS: the certificates it serves, by the name a client asks for, and
 * the answers to ACME HTTP-01 challenges it gives on plain HTTP. Each change is in force from
 * the next handshake or request on, with no reload.
 */
export interface CertificateServing {
  /** Serves pem (a private key and its certificate chain) to clients asking for name; `_default` serves every name without its own. */
  serveCertificate(name: string, pem: string): Promise<void>;
  withdrawCertificate(name: string): Promise<void>;
  /** Answers keyAuthorization at `/.well-known/acme-challenge/<token>` on plain HTTP, for any host. */
  putChallenge(token: string, keyAuthorization: string): Promise<void>;
  removeChallenge(token: string): Promise<void>;
}

/** Whether two tables route every prefix (and colour), in the same order, to the same targets. */
export function sameRoutes(a: readonly Route[], b: readonly Route[]): boolean {
  if (a.length !== b.length) return false;
  return a.every((route, i) => {
    const other = b[i] as Route;
    const colours = route.colours ?? [];
    const otherColours = other.colours ?? [];
    return (
      route.prefix === other.prefix &&
      (route.stripPrefix ?? false) === (other.stripPrefix ?? false) &&
      sameTargets(route.targets, other.targets) &&
      colours.length === otherColours.length &&
      colours.every((c, j) => c.colour === otherColours[j]?.colour && sameTargets(c.targets, otherColours[j]?.targets ?? []))
    );
  });
}

function sameTargets(a: readonly Target[], b: readonly Target[]): boolean {
  return a.length === b.length && a.every((t, j) => t.host === b[j]?.host && t.port === b[j]?.port);
}
