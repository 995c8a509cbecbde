/**
 * Batch jobs in an environment, as Seldon's documentation sets them up by hand (Seldon Enterprise Platform,
 * "Argo Workflows" → "Per Namespace Setup", and "Storage Initializers"): a Role, a ServiceAccount and a
 * RoleBinding all named `workflow`, and a storage-initializer Secret of `RCLONE_CONFIG_<remote>_<var>` keys
 * labelled `secret-type: bucket` and `seldon-deploy: "true"`. Pure: config in, objects out.
 */
import type { Config } from '../config/types.ts';
import type { KubeObject } from '../kube/types.ts';
import { type Environment, environmentsOf, MANAGED_BY_LABELS } from './common.ts';

/** The name Seldon's documentation gives the Role, the ServiceAccount and the RoleBinding. */
export const WORKFLOW_NAME = 'workflow';

/** Seldon's labels on a bucket Secret (the "Storage Initializers" page). */
export const BUCKET_SECRET_LABELS: Readonly<Record<string, string>> = Object.freeze({
  'secret-type': 'bucket',
  'seldon-deploy': 'true',
});

export interface RbacRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

/** Whether batch jobs are set up in an environment: its own `batch`, else environments.batch.enabled. */
export function batchEnabled(config: Config, env: Pick<Environment, 'namespace' | 'logging'>): boolean {
  if (env.logging) return false;
  const own = config.environments.namespaces.find((n) => n.name === env.namespace);
  return own?.batch ?? config.environments.batch.enabled;
}

/** The environments with batch jobs, in config order (never the logging namespace). */
export function batchEnvironments(config: Config): Environment[] {
  return environmentsOf(config).filter((e) => batchEnabled(config, e));
}

/** The source of the storage-initializer Secret, or undefined when none is named. */
export function storageSecretSource(
  config: Config,
  runNamespace: string,
): { name: string; namespace: string } | undefined {
  const ref = config.environments.batch.storageSecret?.secretRef;
  return ref ? { name: ref.name, namespace: ref.namespace ?? runNamespace } : undefined;
}

/** The `workflow` Role, ServiceAccount and RoleBinding of one namespace. */
export function workflowObjects(config: Config, namespace: string): KubeObject[] {
  const metadata = { name: WORKFLOW_NAME, namespace, labels: { ...MANAGED_BY_LABELS } };
  return [
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { ...metadata, labels: { ...metadata.labels } },
      rules: config.environments.batch.rules.map((r) => ({
        apiGroups: [...r.apiGroups],
        resources: [...r.resources],
        verbs: [...r.verbs],
      })),
    },
    {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { ...metadata, labels: { ...metadata.labels } },
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { ...metadata, labels: { ...metadata.labels } },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: WORKFLOW_NAME },
      subjects: [{ kind: 'ServiceAccount', name: WORKFLOW_NAME, namespace }],
    },
  ];
}

/**
 * The storage-initializer Secret of one namespace: the source Secret's data (base64, as read) under the
 * same name, with Seldon's bucket labels. The values are copied, never decoded or described.
 */
export function storageSecretCopy(
  name: string,
  namespace: string,
  data: Readonly<Record<string, string>>,
): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace, labels: { ...MANAGED_BY_LABELS, ...BUCKET_SECRET_LABELS } },
    type: 'Opaque',
    data: { ...data },
  };
}

/** Every batch object the config wants, given the source Secret's data (undefined: no Secret copied). */
export function batchObjects(
  config: Config,
  runNamespace: string,
  sourceData: Readonly<Record<string, string>> | undefined,
): KubeObject[] {
  const source = storageSecretSource(config, runNamespace);
  return batchEnvironments(config).flatMap((env) => [
    ...workflowObjects(config, env.namespace),
    ...(source && sourceData ? [storageSecretCopy(source.name, env.namespace, sourceData)] : []),
  ]);
}

/** `3 rules; Secret seldon-bucket` — for plan's note on a batch environment (names only, no values). */
export function describeBatch(config: Config, runNamespace: string): string {
  const source = storageSecretSource(config, runNamespace);
  const rules = config.environments.batch.rules.length;
  return `batch: Role/ServiceAccount/RoleBinding ${WORKFLOW_NAME} (${rules} rules)${source ? `, Secret ${source.name} from ${source.namespace}` : ''}`;
}
