/**
 * GitLab's project webhooks (gitlab.com and self-hosted, API v4 under webhooks.apiUrl):
 * https://docs.gitlab.com/api/project_webhooks/ — list `GET /projects/:id/hooks`, create
 * `POST /projects/:id/hooks`, edit `PUT /projects/:id/hooks/:hook_id`; `:id` is the URL-encoded project
 * path. Pagination (https://docs.gitlab.com/api/rest/#pagination): `X-Next-Page` (empty on the last
 * page), and a `Link` header. The hook's `token` (what Argo CD checks in X-Gitlab-Token) is never listed.
 */
import { type HookApi, hookClient } from './hook-client.ts';
import type { ProviderHttp } from './http.ts';
import { nextLink } from './link.ts';
import type { DesiredHook, LiveHook, ProviderClient } from './types.ts';

interface GitlabHook {
  id: number;
  url?: string;
  push_events?: boolean;
  enable_ssl_verification?: boolean;
}

const toLive = (h: GitlabHook): LiveHook => ({
  id: String(h.id),
  url: h.url ?? '',
  raw: h as unknown as Record<string, unknown>,
});

function body(hook: DesiredHook) {
  return {
    url: hook.url,
    push_events: true,
    enable_ssl_verification: !hook.insecureSsl,
    ...(hook.secret !== undefined ? { token: hook.secret } : {}),
  };
}

const GITLAB: HookApi<GitlabHook> = {
  firstPage: '?per_page=100',
  page: (res, base) => {
    const nextPage = res.headers.get('x-next-page');
    return {
      items: (res.body as GitlabHook[] | undefined) ?? [],
      next: nextPage
        ? `${base}?per_page=100&page=${encodeURIComponent(nextPage)}`
        : nextLink(res.headers.get('link')),
    };
  },
  toLive,
  body,
  update: { method: 'PUT', body },
  differs: (h, hook) => ({
    push_events: h.push_events !== true,
    enable_ssl_verification: (h.enable_ssl_verification ?? true) !== !hook.insecureSsl,
  }),
};

export function gitlabClient(http: ProviderHttp, repository: string): ProviderClient {
  return hookClient(http, `/projects/${encodeURIComponent(repository)}/hooks`, GITLAB);
}
