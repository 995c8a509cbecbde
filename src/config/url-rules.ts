/**
 * The URL rules over a config (src/config/urls.ts has the checks of one URL): no credential in any URL key,
 * and git.repoUrl as git and ssh will read it. Run by `checkRules` after the other rules.
 */
import type { ConfigProblem } from '../errors.ts';
import type { Config } from './types.ts';
import { CREDENTIALS_SECRET, repoUrlProblem, urlCredentialProblem } from './urls.ts';

export interface UrlRule {
  needs: readonly (keyof Config)[];
  check: (config: Config) => ConfigProblem[];
}

/** The URL-valued keys of the config, with their values (undefined when unset). */
export function configUrls(c: Partial<Config>): [string, string | undefined][] {
  return [
    ['git.repoUrl', c.git?.repoUrl],
    ['argocd.install.url', c.argocd?.install.url],
    ['argocd.url', c.argocd?.url],
    ['argocd.sso.issuer', c.argocd?.sso.issuer],
    ['webhooks.apiUrl', c.webhooks?.apiUrl],
    ['webhooks.argocdUrl', c.webhooks?.argocdUrl],
    ['webhooks.seldonDeployUrl', c.webhooks?.seldonDeployUrl],
  ];
}

function credentialsIn(c: Partial<Config>, section: string): ConfigProblem[] {
  return configUrls(c)
    .filter(([path]) => path.startsWith(`${section}.`))
    .flatMap(([path, value]) => {
      const message = value === undefined ? undefined : urlCredentialProblem(path, value);
      return message ? [{ path, message }] : [];
    });
}

/** No credential in argocd's URLs (install.url, url, sso.issuer). */
export function noCredentialsInArgocdUrls(c: Pick<Config, 'argocd'>): ConfigProblem[] {
  return credentialsIn(c, 'argocd');
}

/** No credential in the webhooks' URLs (apiUrl, argocdUrl, seldonDeployUrl). */
export function noCredentialsInWebhookUrls(c: Pick<Config, 'webhooks'>): ConfigProblem[] {
  return credentialsIn(c, 'webhooks');
}

/**
 * git.repoUrl as git and ssh will read it (what the schema's pattern cannot say: the port range, the
 * scp-like port); plain http:// only with git.allowInsecureHttp, since the Secret's user name and token
 * would cross the network readable.
 */
export function repoUrlShape(c: Pick<Config, 'git'>): ConfigProblem[] {
  const { repoUrl, allowInsecureHttp } = c.git;
  const problem = urlCredentialProblem('git.repoUrl', repoUrl) ?? repoUrlProblem(repoUrl);
  if (problem) return [{ path: 'git.repoUrl', message: problem }];
  if (/^http:\/\//i.test(repoUrl) && !allowInsecureHttp) {
    return [
      {
        path: 'git.repoUrl',
        message: `is plain http://: the user name and token of ${CREDENTIALS_SECRET} would cross the network unencrypted, to git here and to Argo CD: use the https:// URL, or set git.allowInsecureHttp: true (test setups only)`,
      },
    ];
  }
  if (allowInsecureHttp && !/^http:\/\//i.test(repoUrl)) {
    return [
      {
        path: 'git.allowInsecureHttp',
        message: 'only for an http:// repository, and git.repoUrl is not one: remove it',
      },
    ];
  }
  return [];
}

/** The URL rules, run by `checkRules` after the others. */
export const URL_RULES: readonly UrlRule[] = [
  { needs: ['git'], check: repoUrlShape },
  { needs: ['argocd'], check: noCredentialsInArgocdUrls },
  { needs: ['webhooks'], check: noCredentialsInWebhookUrls },
];
