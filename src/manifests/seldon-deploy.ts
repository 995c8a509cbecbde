/**
 * The hand-off to Seldon Deploy: the `gitops:` block of its Helm chart's values that points it at what this
 * program set up — the Git credentials Secret (`gitops.git.secret`, in Seldon Deploy's namespace), Argo CD
 * enabled, and where Argo CD runs. The seed's last step ("modify the gitops section of the values of the
 * Seldon Deploy Helm chart"), written out so nobody has to assemble it.
 */
import type { Config } from '../config/types.ts';
import type { Check } from '../report/types.ts';
import { type HelmRelease, releaseValues, valueAt } from './helm-release.ts';

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

/** The chart whose releases are Seldon Deploy's (Helm's `chart.metadata.name`). */
export const SELDON_DEPLOY_CHART = 'seldon-deploy';
export const GITOPS_SECRET_CHECK = 'seldon-deploy.gitops-secret';

/** The values of Seldon Deploy's chart this setup needs, as `path → value`. */
export function wantedGitopsValues(config: Config): [string, unknown][] {
  return [
    ['gitops.git.secret', config.seldonDeploy.gitCredentialsSecret],
    ['gitops.argocd.enabled', true],
    ['gitops.argocd.namespace', config.argocd.namespace],
  ];
}

/** The values block on one line (YAML flow style), for a check's sentence. */
export function gitopsValuesInline(config: Config, argocdUrl: string): string {
  const { gitCredentialsSecret } = config.seldonDeploy;
  return `gitops: {git: {secret: ${gitCredentialsSecret}}, argocd: {enabled: true, namespace: ${config.argocd.namespace}, url: ${argocdUrl}}}`;
}

/**
 * `seldon-deploy.gitops-secret`: whether Seldon Deploy's Helm release (the latest revision of each release
 * of its chart in its namespace) runs with the values that use this setup. No release: not required (Seldon
 * Deploy comes after this bootstrap); a release that points elsewhere: required, failed, with the block to set.
 */
export function gitopsSecretCheck(
  config: Config,
  argocdUrl: string,
  releases: readonly HelmRelease[],
): Check {
  const ns = config.seldonDeploy.namespace;
  const block = gitopsValuesInline(config, argocdUrl);
  if (releases.length === 0)
    return {
      id: GITOPS_SECRET_CHECK,
      ready: false,
      required: false,
      message: `Seldon Deploy is not installed in ${ns} (no Helm release of the ${SELDON_DEPLOY_CHART} chart): install it with the values ${block}`,
    };
  const wrong: string[] = [];
  const right: string[] = [];
  for (const r of releases) {
    const values = releaseValues(r);
    const off = wantedGitopsValues(config)
      .map(([path, want]) => [path, want, valueAt(values, path)] as const)
      .filter(([, want, have]) => have !== want)
      .map(
        ([path, want, have]) =>
          `${path} is ${have === undefined ? 'unset' : JSON.stringify(have)}, not ${JSON.stringify(want)}`,
      );
    const name = `${r.namespace}/${r.name} (revision ${r.version})`;
    if (off.length > 0) wrong.push(`${name}: ${off.join(', ')}`);
    else right.push(name);
  }
  if (wrong.length > 0)
    return {
      id: GITOPS_SECRET_CHECK,
      ready: false,
      required: true,
      message: `Seldon Deploy's Helm release ${wrong.join('; ')}: set ${block} in its values and run helm upgrade`,
    };
  return {
    id: GITOPS_SECRET_CHECK,
    ready: true,
    required: true,
    message: `Seldon Deploy's Helm release ${right.join(', ')} uses the Secret ${ns}/${config.seldonDeploy.gitCredentialsSecret} and Argo CD in ${config.argocd.namespace}`,
  };
}
