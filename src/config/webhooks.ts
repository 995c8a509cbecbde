/**
 * What the webhook settings mean once validated: the provider's default API, the repository derived from
 * git.repoUrl, the resolved settings a run uses. Pure; the provider clients live in src/webhooks/.
 */
import type { Config } from './types.ts';
import type { WebhookProvider } from './webhook-providers.ts';

export { WEBHOOK_PROVIDERS, type WebhookProvider } from './webhook-providers.ts';

/** The public APIs (GitHub Enterprise Server and self-hosted GitLab set `webhooks.apiUrl`). */
export const DEFAULT_API_URLS: Readonly<Record<WebhookProvider, string>> = {
  github: 'https://api.github.com',
  gitlab: 'https://gitlab.com/api/v4',
  bitbucket: 'https://api.bitbucket.org/2.0',
};

/** The argocd-secret key Argo CD checks a provider's deliveries against (Argo CD's webhook settings). */
export const ARGOCD_WEBHOOK_KEYS: Readonly<Record<WebhookProvider, string>> = {
  github: 'webhook.github.secret',
  gitlab: 'webhook.gitlab.secret',
  bitbucket: 'webhook.bitbucket.uuid',
};

/**
 * The repository path of a Git URL, without `.git`: `ssh://git@github.com/acme/gitops.git` and
 * `git@github.com:acme/gitops.git` → `acme/gitops`. Undefined when there is no path.
 */
export function repositoryPathOf(repoUrl: string): string | undefined {
  let path: string;
  const scp = /^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:\/?(.+)$/.exec(repoUrl);
  if (scp && !repoUrl.includes('://')) path = scp[1]!;
  else {
    try {
      path = decodeURIComponent(new URL(repoUrl).pathname);
    } catch {
      return undefined;
    }
  }
  const trimmed = path
    .replace(/^\/+|\/+$/g, '')
    .replace(/\.git$/, '')
    // Bitbucket and GitLab HTTPS clone URLs sometimes carry the user (`https://user@bitbucket.org/…`);
    // the path is unaffected. GitLab's `/-/` never occurs in a clone URL.
    .trim();
  return trimmed === '' ? undefined : trimmed;
}

/** GitHub and Bitbucket name a repository with exactly two segments; GitLab allows subgroups. */
export function repositorySegmentsOk(provider: WebhookProvider, repository: string): boolean {
  const n = repository.split('/').length;
  return provider === 'gitlab' ? n >= 2 : n === 2;
}

/** The settings of an enabled webhooks section, every default resolved (the rules made sure they exist). */
export interface WebhookSettings {
  provider: WebhookProvider;
  apiUrl: string;
  repository: string;
  token: { namespace: string; name: string; key: string };
  /** role → target URL; `argocd` always, `seldonDeploy` when configured. */
  targets: { role: 'argocd' | 'seldonDeploy'; url: string }[];
  secretName: string;
  insecureSkipTlsVerify: boolean;
}

export function webhookSettings(config: Config, runNamespace: string): WebhookSettings | undefined {
  const w = config.webhooks;
  if (!w.enabled || !w.provider || !w.argocdUrl) return undefined;
  const repository = w.repository ?? repositoryPathOf(config.git.repoUrl);
  if (!repository) return undefined;
  const targets: WebhookSettings['targets'] = [{ role: 'argocd', url: w.argocdUrl }];
  if (w.seldonDeployUrl) targets.push({ role: 'seldonDeploy', url: w.seldonDeployUrl });
  return {
    provider: w.provider,
    apiUrl: (w.apiUrl ?? DEFAULT_API_URLS[w.provider]).replace(/\/+$/, ''),
    repository,
    token: {
      namespace: w.token.secretRef.namespace ?? runNamespace,
      name: w.token.secretRef.name,
      key: w.token.secretRef.key,
    },
    targets,
    secretName: w.secretName,
    insecureSkipTlsVerify: w.insecureSkipTlsVerify,
  };
}
