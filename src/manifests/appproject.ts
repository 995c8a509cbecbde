import type { Config } from '../config/types.ts';
import type { KubeObject } from '../kube/types.ts';
import { environmentsOf, IN_CLUSTER_SERVER, MANAGED_BY_LABELS } from './common.ts';

/** The seed's `seldon-admin` role, for a project of any name. */
export function seldonAdminPolicies(project: string): string[] {
  return ['get', 'create', 'update', 'delete', 'sync'].map(
    (action) => `p, proj:${project}:seldon-admin, applications, ${action}, ${project}/*, allow`,
  );
}

type ProjectSpec = {
  sourceRepos?: string[];
  destinations?: { namespace?: string; server?: string; name?: string }[];
  roles?: { name?: string }[];
};

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

/**
 * `appProject` with what users added kept. Its lists are atomic for server-side apply (Argo CD's CRD
 * declares no list type), so applying ours alone would drop entries added by hand: the live source
 * repositories, destinations and roles that are not ours are kept, after ours (a re-run changes nothing).
 * The destinations of environments removed from the config (`removed`, from the inventory: they were ours)
 * go; any other destination not in the config is kept, as one a user may have added.
 */
export function appProjectKeepingOthers(
  config: Config,
  live: KubeObject | null | undefined,
  removed: readonly string[] = [],
): KubeObject {
  const ours = appProject(config);
  const spec = ours.spec as Required<ProjectSpec>;
  const theirs = (live?.spec ?? {}) as ProjectSpec;
  const key = (d: { namespace?: string; server?: string; name?: string }) =>
    `${d.server ?? ''}|${d.name ?? ''}|${d.namespace ?? ''}`;
  const ourDest = new Set(spec.destinations.map(key));
  const ourRoles = new Set(spec.roles.map((r) => r.name));
  return {
    ...ours,
    spec: {
      ...spec,
      sourceRepos: [
        ...spec.sourceRepos,
        ...(theirs.sourceRepos ?? []).filter((r) => !spec.sourceRepos.includes(r)),
      ],
      destinations: [
        ...spec.destinations,
        ...(theirs.destinations ?? []).filter(
          (d) =>
            !ourDest.has(key(d)) &&
            !(d.server === IN_CLUSTER_SERVER && d.namespace !== undefined && removed.includes(d.namespace)),
        ),
      ],
      roles: [...spec.roles, ...(theirs.roles ?? []).filter((r) => !ourRoles.has(r.name))],
    },
  };
}
