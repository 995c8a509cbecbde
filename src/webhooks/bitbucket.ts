/**
 * Bitbucket Cloud's repository webhooks (API 2.0):
 * https://developer.atlassian.com/cloud/bitbucket/rest/api-group-repositories/#api-repositories-workspace-repo-slug-hooks-get
 * — list `GET /repositories/{workspace}/{repo_slug}/hooks` (a paginated `{values, next}` page,
 * https://developer.atlassian.com/cloud/bitbucket/rest/intro/#pagination), create `POST …/hooks`, update
 * `PUT …/hooks/{uid}`. A hook is named by its `uuid` (`{…}` in the API; Bitbucket sends it without the
 * braces in each delivery's `X-Hook-UUID`, which is what Argo CD checks against `webhook.bitbucket.uuid`).
 */
import { type HookApi, hookClient, ownerAndName } from './hook-client.ts';
import type { ProviderHttp } from './http.ts';
import type { DesiredHook, LiveHook, ProviderClient } from './types.ts';

export const BITBUCKET_EVENTS = ['repo:push'];
const DESCRIPTION = {
  argocd: 'Argo CD (sd-gitops-bootstrap)',
  seldonDeploy: 'Seldon Deploy (sd-gitops-bootstrap)',
};

interface BitbucketHook {
  uuid: string;
  url?: string;
  description?: string;
  active?: boolean;
  events?: string[];
  skip_cert_verification?: boolean;
}

interface BitbucketPage {
  values?: BitbucketHook[];
  next?: string;
}

const toLive = (h: BitbucketHook): LiveHook => ({
  id: h.uuid,
  url: h.url ?? '',
  raw: h as unknown as Record<string, unknown>,
});

/** `{abc-…}` → `abc-…`, as Bitbucket sends it in X-Hook-UUID. */
export function bareUuid(uuid: string): string {
  return uuid.replace(/^\{|\}$/g, '');
}

function body(hook: DesiredHook) {
  return {
    description: DESCRIPTION[hook.role],
    url: hook.url,
    active: true,
    events: BITBUCKET_EVENTS,
    skip_cert_verification: hook.insecureSsl,
  };
}

const BITBUCKET: HookApi<BitbucketHook> = {
  firstPage: '?pagelen=100',
  page: (res) => {
    const page = (res.body as BitbucketPage | undefined) ?? {};
    return { items: page.values ?? [], next: page.next };
  },
  toLive,
  body,
  update: { method: 'PUT', body },
  differs: (h, hook) => {
    const want = body(hook);
    return {
      active: h.active !== true,
      events: [...(h.events ?? [])].sort().join(',') !== BITBUCKET_EVENTS.join(','),
      skip_cert_verification: (h.skip_cert_verification ?? false) !== want.skip_cert_verification,
      description: h.description !== want.description,
    };
  },
};

export function bitbucketClient(http: ProviderHttp, repository: string): ProviderClient {
  return hookClient(http, `/repositories/${ownerAndName(repository)}/hooks`, BITBUCKET);
}
