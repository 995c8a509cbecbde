import type { Config } from '../config/types.ts';
import type { KubeObject } from '../kube/types.ts';
import { defaultApplicationName, type Environment } from './common.ts';

/**
 * A GitOps environment's Namespace, as the seed labels it by hand: `seldon.restricted`, `seldon.gitops`,
 * `argocdapp` (only when the Application does not follow the `seldon-gitops-<ns>` convention) and the
 * `git-repo` annotation. Applied server-side, so the namespace's other labels are left alone.
 */
export function namespaceFor(config: Config, env: Environment): KubeObject {
  const labels: Record<string, string> = {
    'seldon.restricted': String(env.restricted),
    'seldon.gitops': 'enabled',
  };
  if (env.applicationName !== defaultApplicationName(env.namespace)) labels.argocdapp = env.applicationName;
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: env.namespace, labels, annotations: { 'git-repo': config.git.repoUrl } },
  };
}
