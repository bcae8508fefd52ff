import { DEFAULT_HEALTH_CHECK, type HealthCheck } from '../health-check.js';
import type { DependencyCondition, HealthcheckSpec, RestartPolicy } from './stack-spec.js';

/**
 * What a stack service's revision runs besides what any service's does, as its compose file
 * says. Names here are the stack's own (network and volume keys, project network and volume
 * names); the reconciler turns them into the runtime's.
 */
export interface StackSettings {
  readonly stack: string;
  readonly composeName: string;
  /** The names it answers to on every network it joins. */
  readonly aliases: readonly string[];
  readonly networks: readonly { readonly key: string; readonly external: string | null; readonly aliases: readonly string[] }[];
  readonly mounts: readonly StackMount[];
  /** Secrets and configs: files the reconciler writes from the stack's attachments, mounted read-only. */
  readonly files: readonly { readonly name: string; readonly target: string }[];
  readonly healthcheck: HealthcheckSpec | null;
  /** Host ports inside the server's allowed range only; the others are reached through the gateway. */
  readonly hostPorts: readonly { readonly target: number; readonly published: number; readonly hostIp: string | null; readonly protocol: 'tcp' | 'udp' }[];
  readonly entrypoint: readonly string[] | null;
  readonly workingDir: string | null;
  readonly user: string | null;
  readonly hostname: string | null;
  readonly stopSignal: string | null;
  readonly stopGraceSeconds: number | null;
  readonly init: boolean;
  readonly capDrop: readonly string[];
  readonly ulimits: readonly { readonly name: string; readonly soft: number; readonly hard: number }[];
  readonly extraHosts: readonly string[];
  readonly labels: Readonly<Record<string, string>>;
  readonly logMaxBytes: number | null;
  readonly restart: RestartPolicy;
  /** Served by the gateway at /<project>-<stack>-<service> (its first target port is containerPort). */
  readonly routed: boolean;
  readonly stripPrefix: boolean;
  /** x-berth's health_path; null: the service's root, where any answer but a server error will do. */
  readonly healthPath: string | null;
  /** berth's names of the services it waits for, and for what. */
  readonly dependsOn: readonly { readonly service: string; readonly condition: DependencyCondition }[];
}

export interface StackMount {
  readonly kind: 'volume' | 'bind' | 'tmpfs';
  /**
   * volume: its key in the stack's `volumes` (or, with `external`, the project volume's name;
   * '' for an anonymous one); bind: the absolute host path, checked against the server's policy.
   */
  readonly source: string;
  readonly external: boolean;
  readonly target: string;
  readonly readOnly: boolean;
}

/**
 * How berth's prober checks a routed stack service without a healthcheck of its own. A compose
 * file says nothing of a health page, so an app is healthy when it answers HTTP at its root
 * without a server error (a 404 there is an app that runs); with x-berth's health_path, that
 * page must answer 2xx or 3xx, as for any service.
 */
export function stackProbe(settings: StackSettings): HealthCheck {
  if (settings.healthPath !== null) return { ...DEFAULT_HEALTH_CHECK, relPath: settings.healthPath };
  return { ...DEFAULT_HEALTH_CHECK, relPath: '/', statusCodes: [{ from: 200, to: 499 }] };
}
