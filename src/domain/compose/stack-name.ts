import { InvalidResourceNameError, InvalidServiceNameError } from '../errors.js';
import { printable } from '../names.js';
import { MAX_STACK_SERVICE_NAME } from './plan-up.js';

const NAME = /^[a-z](?:[a-z0-9-]*[a-z0-9])?$/;

/**
 * A stack's name is part of every one of its services' names (`<stack>-<service>`), so it
 * follows their rule, and leaves room in DNS's 63 characters for `<project>-` and a service.
 */
export function assertStackName(project: string, name: string): void {
  if (!NAME.test(name)) {
    throw new InvalidServiceNameError(`Invalid stack name '${printable(name)}': begin with a-z, use only a-z, 0-9 and '-', end with a letter or digit`);
  }
  const room = MAX_STACK_SERVICE_NAME - project.length - 3;
  if (name.length > room) throw new InvalidServiceNameError(`Invalid stack name '${name}': at most ${room} characters in project '${project}'`);
}

/** berth's name of a compose service: `<stack>-<compose name>`, lower case, `_` and `.` as `-` (sisock_crossbar → s-sisock-crossbar). */
export function stackServiceName(stack: string, composeName: string): string {
  return `${stack}-${composeName.toLowerCase().replace(/[_.]/g, '-')}`;
}

/** Whether berth's name made from a compose name is a valid service name. */
export function isServiceName(name: string): boolean {
  return NAME.test(name);
}

const RESOURCE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/;

/** A project network's or volume's name, as docker takes them (`sisock-net`, `kge_data`). */
export function assertResourceName(kind: 'network' | 'volume', name: string): void {
  if (!RESOURCE.test(name)) {
    throw new InvalidResourceNameError(`Invalid ${kind} name '${printable(name)}': begin with a letter or digit, then letters, digits, '_', '.' or '-', at most 63 characters`);
  }
}
