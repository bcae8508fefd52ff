/** `berth/client`: the TypeScript SDK for the berth API. */
export {
  BerthClient,
  type BerthClientOptions,
  type ChartPoint,
  type Certificate,
  type Certificates,
  type Colour,
  type NodeDocument,
  type Nodes,
  type Deployment,
  type DeploymentProgress,
  type Events,
  type FollowLogsOptions,
  type HealthCheck,
  type Job,
  type JobInput,
  type JobSummary,
  type LogLine,
  type Logs,
  type RequestOptions,
  type Revision,
  type ServiceDefinition,
  type ServiceEvent,
  type ServiceMetrics,
  type ServiceStatusDoc,
  type ServiceSummaryDoc,
  type SwitchResult,
  type WaitOptions,
} from './berth-client.js';
export {
  DatabaseApi,
  type Backup,
  type DatabaseChange,
  type DatabaseInput,
  type DatabaseStatus,
  type DatabaseSummary,
  type DumpFormat,
  type Restore,
  type WaitForOptions,
} from './databases.js';
export { execInService, type ExecConnection, type ExecRequest } from './exec.js';
export { StackApi, type ProjectResource, type StackServiceAction, type StackServiceStatus, type StackStatus, type StackSummary, type StackUp, type StackUpResult } from './stacks.js';
export { parseEnvFile, EnvFileError, type EnvEntry } from './env-file.js';
export { BerthApiError, type ApiProblem, BerthClientError, BerthResponseError, BerthTimeoutError, BerthTransferBrokenError, BerthUnreachableError, codeForStatus } from './errors.js';
