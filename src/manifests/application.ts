import type { Config } from '../config/types.ts';
import type { KubeObject } from '../kube/types.ts';
import { type Environment, IN_CLUSTER_SERVER, MANAGED_BY_LABELS } from './common.ts';

/** Argo CD's finalizer that makes deleting an Application delete what it deployed. */
export const RESOURCES_FINALIZER = 'resources-finalizer.argocd.argoproj.io';

/**
 * One environment's Argo CD Application: the folder named like the namespace, recursively, synced
 * automatically. `repoURL` is `git.repoUrl` verbatim: Argo CD matches credentials to it by exact URL.
 */
export function application(config: Config, env: Environment): KubeObject {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Application',
    metadata: {
      name: env.applicationName,
      namespace: config.argocd.namespace,
      labels: { ...MANAGED_BY_LABELS },
    },
    spec: {
      project: config.environments.project,
      destination: { namespace: env.namespace, server: IN_CLUSTER_SERVER },
      source: { directory: { recurse: true }, path: env.namespace, repoURL: config.git.repoUrl },
      syncPolicy: { automated: {} },
    },
  };
}
