/**
 * The Kubernetes layer's public surface, for code outside src/ (the e2e suites). Inside src/, modules import
 * the file they need (`../kube/objects.ts`), which keeps the import graph (npm run lint) precise.
 */
export {
  APPLY_PATCH_CONTENT_TYPE,
  type ApplyContext,
  type ApplyResult,
  applyObject,
  applyObjects,
  FIELD_MANAGER,
  NOTE_NO_CRD,
  waitForCrd,
} from './apply.ts';
export {
  apiErrorFromResponse,
  type ConnectOptions,
  connect,
  humanizeStatusMessage,
  KubeClient,
  type KubeClientOptions,
  kubeConfigTransport,
} from './client.ts';
export { diffObjects, diffPaths, stripServerFields } from './diff.ts';
export {
  Discovery,
  groupVersionPath,
  type ResourceInfo,
  resourcePath,
  splitApiVersion,
} from './discovery.ts';
export {
  acquireLease,
  type LeaseHandle,
  LeaseHeldError,
  type LeaseOptions,
  leaseExpiry,
  toMicroTime,
} from './lease.ts';
export { describeRef, groupOf, includesDesired, overlay, readSecret, refKey, refOf } from './objects.ts';
export {
  type HttpRequest,
  type HttpResponse,
  isRetryableError,
  isRetryableResponse,
  isRetryableStatus,
  isSchemaError,
  parseRetryAfter,
  type RetryInfo,
  type RetryOptions,
  type Transport,
  withRetry,
} from './retry.ts';
export {
  type ApplicationStatus,
  applicationStatus,
  crdEstablished,
  deploymentRolledOut,
  type Readiness,
  statefulSetRolledOut,
} from './status.ts';
export type {
  ApplyOptions,
  ChangeAction,
  Kube,
  KubeObject,
  ObjectChange,
  ObjectRef,
  RequestStats,
} from './types.ts';
export {
  defaultClassifyError,
  formatDuration,
  type ProbeResult,
  WaitFailedError,
  type WaitOptions,
  waitFor,
} from './wait.ts';
