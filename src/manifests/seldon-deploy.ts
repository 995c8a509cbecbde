/**
 * The hand-off to Seldon Deploy: the `gitops:` block of its Helm chart's values that points it at what this
 * program set up — the Git credentials Secret (`gitops.git.secret`, in Seldon Deploy's namespace), Argo CD
 * enabled, and where Argo CD runs. The seed's last step ("modify the gitops section of the values of the
 * Seldon Deploy Helm chart"), written out so nobody has to assemble it.
 */
import type { Config } from '../config/types.ts';

export interface SeldonDeployHandoff {
  /** The values block, YAML, ready for `helm upgrade seldon-deploy … -f`. */
  values: string;
  /** Where the credentials Secret is. */
  secret: { namespace: string; name: string };
}

export function seldonDeployHandoff(config: Config, argocdUrl: string): SeldonDeployHandoff {
  const { namespace, gitCredentialsSecret } = config.seldonDeploy;
  const values = [
    'gitops:',
    '  git:',
    `    secret: ${gitCredentialsSecret}`,
    '  argocd:',
    '    enabled: true',
    `    namespace: ${config.argocd.namespace}`,
    `    url: ${argocdUrl}`,
    '',
  ].join('\n');
  return { values, secret: { namespace, name: gitCredentialsSecret } };
}
