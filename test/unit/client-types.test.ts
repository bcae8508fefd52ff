import type { Static } from '@sinclair/typebox';
import { describe, expectTypeOf, it } from 'vitest';
import type {
  AuditDoc,
  CreateProjectResponse,
  CreateServiceBody,
  DeleteServiceResponse,
  DeploymentDoc,
  DockerCredentialsDoc,
  EnvVar,
  EventsDoc,
  LogsDoc,
  ServiceDefinitionBody,
  ServiceDoc,
  ServiceSummary,
  UpdateServiceResponse,
} from '../../src/api/schemas.js';
import type { BerthClient, DeploymentProgress, LogLine } from '../../src/client/index.js';
import type { parseEnvFile } from '../../src/client/index.js';

type Answer<M extends keyof BerthClient> = BerthClient[M] extends (...args: never[]) => Promise<infer R> ? R : never;

// The SDK derives its types from the API's TypeBox schemas; these fail to compile when the two drift apart.
describe('SDK types are the API schemas', () => {
  it('answers the schema types', () => {
    expectTypeOf<Answer<'createProject'>>().toEqualTypeOf<Static<typeof CreateProjectResponse>>();
    expectTypeOf<Answer<'audit'>>().toEqualTypeOf<Static<typeof AuditDoc>>();
    expectTypeOf<Answer<'listServices'>>().toEqualTypeOf<Static<typeof ServiceSummary>[]>();
    expectTypeOf<Answer<'createService'>>().toEqualTypeOf<Static<typeof ServiceSummary>>();
    expectTypeOf<Answer<'getService'>>().toEqualTypeOf<Static<typeof ServiceDoc>>();
    expectTypeOf<Answer<'logs'>>().toEqualTypeOf<Static<typeof LogsDoc>>();
    expectTypeOf<Answer<'dockerCredentials'>>().toEqualTypeOf<Static<typeof DockerCredentialsDoc>>();
    expectTypeOf<Answer<'updateService'>>().toEqualTypeOf<Static<typeof UpdateServiceResponse>>();
    expectTypeOf<Answer<'deleteService'>>().toEqualTypeOf<Static<typeof DeleteServiceResponse>>();
    expectTypeOf<Answer<'events'>>().toEqualTypeOf<Static<typeof EventsDoc>>();
    expectTypeOf<Answer<'deployments'>>().toEqualTypeOf<Static<typeof DeploymentDoc>[]>();
    expectTypeOf<Answer<'deployment'>>().toEqualTypeOf<Static<typeof DeploymentDoc>>();
    expectTypeOf<Answer<'cancelDeployment'>>().toEqualTypeOf<Static<typeof DeploymentDoc>>();
    expectTypeOf<Answer<'waitForDeployment'>>().toEqualTypeOf<Static<typeof DeploymentDoc>>();
    expectTypeOf<Answer<'followLogs'>>().toEqualTypeOf<void>();
  });

  it('takes the schema types', () => {
    expectTypeOf<Parameters<BerthClient['updateService']>[1]>().toEqualTypeOf<Static<typeof ServiceDefinitionBody>>();
    expectTypeOf<Exclude<Parameters<BerthClient['createService']>[1], undefined>>().toEqualTypeOf<Exclude<Static<typeof CreateServiceBody>['health_check'], undefined>>();
    expectTypeOf<ReturnType<typeof parseEnvFile>>().toEqualTypeOf<Static<typeof EnvVar>[]>();
  });

  it('describes progress and log lines with the schema fields', () => {
    type Logs = Static<typeof LogsDoc>['logs'][number];
    expectTypeOf<LogLine>().toEqualTypeOf<{ stream_name: Logs['stream_name'] } & Logs['log_events'][number]>();
    expectTypeOf<Extract<DeploymentProgress, { kind: 'step' }>['deployment']>().toEqualTypeOf<Static<typeof DeploymentDoc>>();
    expectTypeOf<Extract<DeploymentProgress, { kind: 'event' }>['event']>().toEqualTypeOf<Static<typeof EventsDoc>['events'][number]>();
  });
});
