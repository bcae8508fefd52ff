/**
 * The error catalogue. Domain errors know nothing of HTTP transports, but each
 * carries the status the API edge maps it to, and a stable code that clients
 * (the SDK, the CLI) switch on. Codes are documented in docs/errors.md and a
 * test fails when one is missing there.
 */
export abstract class BerthError extends Error {
  abstract readonly code: string;
  abstract readonly status: number;
  /** Fields the answer carries besides `Error` and `code` (a compose file's every problem, say). */
  readonly details: Readonly<Record<string, unknown>> | undefined = undefined;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

export class TokenInvalidError extends BerthError {
  readonly code = 'BERTH_TOKEN_INVALID';
  readonly status = 403;
  constructor() {
    super('Token validation failed');
  }
}

export class AdminRequiredError extends BerthError {
  readonly code = 'BERTH_ADMIN_REQUIRED';
  readonly status = 403;
  constructor() {
    super('This endpoint needs the admin token');
  }
}

export class TooManyAuthFailuresError extends BerthError {
  readonly code = 'BERTH_AUTH_RATE_LIMITED';
  readonly status = 429;
  constructor(readonly retryAfterSeconds: number) {
    super(`Too many failed authentication attempts; retry in ${retryAfterSeconds} s`);
  }
}

/** servicectl answers 405 for a bad or taken name on create; kept for compatibility. */
export class InvalidServiceNameError extends BerthError {
  readonly code = 'BERTH_INVALID_SERVICE_NAME';
  readonly status = 405;
}

export class ServiceExistsError extends BerthError {
  readonly code = 'BERTH_SERVICE_EXISTS';
  readonly status = 405;
  constructor(name: string) {
    super(`Service '${name}' already exists`);
  }
}

/** Another project's service already has the address `<project>-<service>` (405, as a taken name). */
export class ServiceAddressTakenError extends BerthError {
  readonly code = 'BERTH_SERVICE_ADDRESS_TAKEN';
  readonly status = 405;
  constructor(name: string, qualified: string) {
    super(`Service name '${name}' would be served at /${qualified}, which another project's service already uses; choose another name`);
  }
}

export class InvalidProjectNameError extends BerthError {
  readonly code = 'BERTH_INVALID_PROJECT_NAME';
  readonly status = 400;
}

export class ProjectExistsError extends BerthError {
  readonly code = 'BERTH_PROJECT_EXISTS';
  readonly status = 409;
  constructor(name: string) {
    super(`Project '${name}' already exists`);
  }
}

export class InvalidDefinitionError extends BerthError {
  readonly code = 'BERTH_INVALID_DEFINITION';
  readonly status = 400;
}

/** An image on berth's registry in another project's repository. */
export class ImageNotOwnedError extends BerthError {
  readonly code = 'BERTH_IMAGE_NOT_OWNED';
  readonly status = 400;
  constructor(repository: string) {
    super(
      `'image' ${repository} is in another project's repository on berth's registry; a project runs only images of its own repositories there`,
    );
  }
}

/** The engine resolved a reference to an image that does not carry that name (an id prefix, say). */
export class ImageNotNamedError extends BerthError {
  readonly code = 'BERTH_IMAGE_NOT_NAMED';
  readonly status = 400;
}

export class InvalidJobError extends BerthError {
  readonly code = 'BERTH_INVALID_JOB';
  readonly status = 400;
}

export class JobNotFoundError extends BerthError {
  readonly code = 'BERTH_JOB_NOT_FOUND';
  readonly status = 404;
  constructor(id: number | string) {
    super(`Job ${String(id).slice(0, 32)} not found`);
  }
}

export class InvalidHealthCheckError extends BerthError {
  readonly code = 'BERTH_INVALID_HEALTH_CHECK';
  readonly status = 400;
}

export class BadRequestError extends BerthError {
  readonly code = 'BERTH_BAD_REQUEST';
  readonly status = 400;
}



export class ServiceNotFoundError extends BerthError {
  readonly code = 'BERTH_SERVICE_NOT_FOUND';
  readonly status = 404;
  constructor(name: string) {
    super(`Service '${name}' not found`);
  }
}

export class DeploymentNotFoundError extends BerthError {
  readonly code = 'BERTH_DEPLOYMENT_NOT_FOUND';
  readonly status = 404;
  constructor(id: number) {
    super(`Deployment ${id} not found`);
  }
}

export class RouteNotFoundError extends BerthError {
  readonly code = 'BERTH_ROUTE_NOT_FOUND';
  readonly status = 404;
  constructor(method: string, url: string) {
    super(`No route for ${method} ${url}`);
  }
}


export class ServiceDeletingError extends BerthError {
  readonly code = 'BERTH_SERVICE_DELETING';
  readonly status = 409;
  constructor(name: string) {
    super(`Service '${name}' is being deleted`);
  }
}

export class FeatureUnavailableError extends BerthError {
  readonly code = 'BERTH_NOT_IMPLEMENTED';
  readonly status = 501;
}

/** Raised by adapters when the engine, nginx or the registry cannot do what was asked. */
export class RuntimeUnavailableError extends BerthError {
  readonly code = 'BERTH_RUNTIME_UNAVAILABLE';
  readonly status = 503;
}

/** The runtime holds no task by that id (it was removed meanwhile, say). */
export class RuntimeTaskNotFoundError extends BerthError {
  readonly code = 'BERTH_RUNTIME_TASK_NOT_FOUND';
  readonly status = 404;
}

/** The runtime has no such image and cannot get it. */
export class RuntimeImageMissingError extends BerthError {
  readonly code = 'BERTH_RUNTIME_IMAGE_MISSING';
  readonly status = 400;
}

/** The host's neighbour entry for a container just started could not be set (ADR 006); the container runs regardless. */
export class RuntimeNeighbourError extends BerthError {
  readonly code = 'BERTH_RUNTIME_NEIGHBOUR_FAILED';
  readonly status = 500;
}

export class ConfigError extends BerthError {
  readonly code = 'BERTH_CONFIG_INVALID';
  readonly status = 400;
}


/** The request conflicts with the resource's current state. */
export class ConflictError extends BerthError {
  readonly code = 'BERTH_CONFLICT';
  readonly status = 409;
}

/** A fault in berth itself; the server log has details. */
export class InternalError extends BerthError {
  readonly code = 'BERTH_INTERNAL';
  readonly status = 500;
}

/** No certificate is managed for that host. */
export class CertificateNotFoundError extends BerthError {
  readonly code = 'BERTH_CERTIFICATE_NOT_FOUND';
  readonly status = 404;
  constructor(host: string) {
    super(`No certificate is managed for '${host.slice(0, 253)}'`);
  }
}

/** The server does not obtain its certificates (TLS is off, or the user brings them with --tls files). */
export class CertificatesNotManagedError extends BerthError {
  readonly code = 'BERTH_CERTIFICATES_NOT_MANAGED';
  readonly status = 409;
}

/** The ACME server could not be reached: down, a name that does not resolve, a TLS certificate not trusted, a timeout. */
export class AcmeUnreachableError extends BerthError {
  readonly code = 'BERTH_ACME_UNREACHABLE';
  readonly status = 503;
}

/** The ACME server could not validate the HTTP-01 challenge; the message is its own reason. */
export class AcmeChallengeFailedError extends BerthError {
  readonly code = 'BERTH_ACME_CHALLENGE_FAILED';
  readonly status = 502;
}

/** The ACME server's rate limit; retried later. */
export class AcmeRateLimitedError extends BerthError {
  readonly code = 'BERTH_ACME_RATE_LIMITED';
  readonly status = 429;
}

/** The ACME server refused a request (any other problem document); the message is its own reason. */
export class AcmeRefusedError extends BerthError {
  readonly code = 'BERTH_ACME_REFUSED';
  readonly status = 502;
}

/** A database's name, engine, image or sizes are not acceptable. */
export class InvalidDatabaseError extends BerthError {
  readonly code = 'BERTH_INVALID_DATABASE';
  readonly status = 400;
}

export class DatabaseNotFoundError extends BerthError {
  readonly code = 'BERTH_DATABASE_NOT_FOUND';
  readonly status = 404;
  constructor(name: string) {
    super(`Database '${name}' not found`);
  }
}

export class DatabaseExistsError extends BerthError {
  readonly code = 'BERTH_DATABASE_EXISTS';
  readonly status = 409;
}

/** A service of the project has the name a database would take (its host name on the project's network). */
export class DatabaseNameTakenError extends BerthError {
  readonly code = 'BERTH_DATABASE_NAME_TAKEN';
  readonly status = 409;
}

/** The database cannot do that now: it is not ready yet, is being deleted, or another restore runs. */
export class DatabaseBusyError extends BerthError {
  readonly code = 'BERTH_DATABASE_BUSY';
  readonly status = 409;
}

/** A restore this orchestrator cannot do yet: a Redis restore on Swarm (ADR 014). */
export class RestoreUnsupportedError extends BerthError {
  readonly code = 'BERTH_RESTORE_UNSUPPORTED';
  readonly status = 501;
}

/** The memory a database reserves does not fit beside what runs. */
export class DatabaseDoesNotFitError extends BerthError {
  readonly code = 'BERTH_DATABASE_DOES_NOT_FIT';
  readonly status = 409;
}

/** A file given to restore is not a dump, or is a dump of another engine; nothing was touched. */
export class DumpRefusedError extends BerthError {
  readonly code = 'BERTH_DUMP_REFUSED';
  readonly status = 400;
}

/** A dump or a restore broke off inside the database's task (the engine's own message is in it). */
export class DumpFailedError extends BerthError {
  readonly code = 'BERTH_DUMP_FAILED';
  readonly status = 502;
}

export class BackupNotFoundError extends BerthError {
  readonly code = 'BERTH_BACKUP_NOT_FOUND';
  readonly status = 404;
  constructor(id: string) {
    super(`Backup ${id} not found`);
  }
}

export class RestoreNotFoundError extends BerthError {
  readonly code = 'BERTH_RESTORE_NOT_FOUND';
  readonly status = 404;
  constructor(id: string) {
    super(`Restore ${id} not found`);
  }
}

/** A secret's name or value is not acceptable (never echoes the value). */
export class InvalidSecretError extends BerthError {
  readonly code = 'BERTH_INVALID_SECRET';
  readonly status = 400;
}

/** The secrets key file is missing while the store holds secrets encrypted with it. */
export class SecretsKeyMissingError extends BerthError {
  readonly code = 'BERTH_SECRETS_KEY_MISSING';
  readonly status = 500;
}

/** The secrets key file is unreadable, or does not decrypt the secrets the store holds. */
export class SecretsKeyInvalidError extends BerthError {
  readonly code = 'BERTH_SECRETS_KEY_INVALID';
  readonly status = 500;
}

/** No stack of that name in the caller's project. */
export class StackNotFoundError extends BerthError {
  readonly code = 'BERTH_STACK_NOT_FOUND';
  readonly status = 404;
  constructor(name: string) {
    super(`No stack '${name.slice(0, 64)}' in this project`);
  }
}

/** The stack has no service of that name. */
export class StackServiceNotFoundError extends BerthError {
  readonly code = 'BERTH_STACK_SERVICE_NOT_FOUND';
  readonly status = 404;
  constructor(stack: string, service: string) {
    super(`Stack '${stack}' has no service '${service.slice(0, 64)}'`);
  }
}

/** A stack's service is changed through its stack (`berth compose`), not as a lone service. */
export class ServiceInStackError extends BerthError {
  readonly code = 'BERTH_SERVICE_IN_STACK';
  readonly status = 409;
  constructor(service: string, stack: string) {
    super(`Service '${service}' belongs to stack '${stack}': change it with berth compose (PUT /stacks/${stack})`);
  }
}

/** A stack's service would take the name of a service outside it, or of a database. */
export class StackNameTakenError extends BerthError {
  readonly code = 'BERTH_STACK_NAME_TAKEN';
  readonly status = 409;
}

/** No project network or volume of that name. */
export class ProjectResourceNotFoundError extends BerthError {
  readonly code = 'BERTH_RESOURCE_NOT_FOUND';
  readonly status = 404;
  constructor(kind: 'network' | 'volume', name: string) {
    super(`No ${kind} '${name.slice(0, 64)}' in this project`);
  }
}

/** A project network or volume is still used by a stack. */
export class ProjectResourceInUseError extends BerthError {
  readonly code = 'BERTH_RESOURCE_IN_USE';
  readonly status = 409;
}

/** The stack's services together reserve more memory than berth may ever reserve. */
export class StackTooLargeError extends BerthError {
  readonly code = 'BERTH_STACK_TOO_LARGE';
  readonly status = 409;
}

/** A project network's or volume's name docker would not take. */
export class InvalidResourceNameError extends BerthError {
  readonly code = 'BERTH_INVALID_RESOURCE_NAME';
  readonly status = 400;
}

/** No task of the service runs to run a command in. */
export class TaskNotRunningError extends BerthError {
  readonly code = 'BERTH_TASK_NOT_RUNNING';
  readonly status = 409;
}
