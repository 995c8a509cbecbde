import type { Config } from '../config/types.ts';
import type { KubeObject } from '../kube/types.ts';
import { environmentsOf, IN_CLUSTER_SERVER, MANAGED_BY_LABELS } from './common.ts';

/** The seed's `seldon-admin` role, for a project of any name. */
export function seldonAdminPolicies(project: string): string[] {
  return ['get', 'create', 'update', 'delete', 'sync'].map(
    (action) => `p, proj:${project}:seldon-admin, applications, ${action}, ${project}/*, allow`,
  );
}

/** The AppProject every environment's Application belongs to: the repo as source, every environment as destination. */
export function appProject(config: Config): KubeObject {
  const project = config.environments.project;
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'AppProject',
    metadata: { name: project, namespace: config.argocd.namespace, labels: { ...MANAGED_BY_LABELS } },
    spec: {
      description: 'Seldon Deploy Project',
      sourceRepos: [config.git.repoUrl],
      destinations: environmentsOf(config).map((env) => ({
        namespace: env.namespace,
        server: IN_CLUSTER_SERVER,
      })),
      clusterResourceWhitelist: [{ group: '*', kind: '*' }],
      roles: [{ name: 'seldon-admin', policies: seldonAdminPolicies(project) }],
    },
  };
}
