/**
 * GitHub's repository webhooks (github.com and Enterprise Server, same REST API under webhooks.apiUrl):
 * https://docs.github.com/en/rest/repos/webhooks — list `GET /repos/{owner}/{repo}/hooks` (paginated by
 * the Link header, https://docs.github.com/en/rest/using-the-rest-api/using-pagination-in-the-rest-api),
 * create `POST …/hooks`, update `PATCH …/hooks/{hook_id}`. A listed hook's `config.secret` is `********`
 * when one is set: the value is never returned.
 */
import { type HookApi, hookClient, ownerAndName } from './hook-client.ts';
import type { ProviderHttp } from './http.ts';
import { nextLink } from './link.ts';
import type { DesiredHook, LiveHook, ProviderClient } from './types.ts';

export const GITHUB_EVENTS = ['push'];

interface GithubHook {
  id: number;
  name?: string;
  active?: boolean;
  events?: string[];
  config?: { url?: string; content_type?: string; insecure_ssl?: string | number; secret?: string };
}

const toLive = (h: GithubHook): LiveHook => ({
  id: String(h.id),
  url: h.config?.url ?? '',
  raw: h as unknown as Record<string, unknown>,
});

function body(hook: DesiredHook) {
  return {
    name: 'web',
    active: true,
    events: GITHUB_EVENTS,
    config: {
      url: hook.url,
      content_type: 'json',
      insecure_ssl: hook.insecureSsl ? '1' : '0',
      ...(hook.secret !== undefined ? { secret: hook.secret } : {}),
    },
  };
}

const GITHUB: HookApi<GithubHook> = {
  firstPage: '?per_page=100',
  page: (res) => ({
    items: (res.body as GithubHook[] | undefined) ?? [],
    next: nextLink(res.headers.get('link')),
  }),
  toLive,
  body,
  update: {
    method: 'PATCH',
    body: (hook) => {
      const { name: _name, ...patch } = body(hook);
      return patch;
    },
  },
  differs: (h, hook) => ({
    active: h.active !== true,
    events: [...(h.events ?? [])].sort().join(',') !== GITHUB_EVENTS.join(','),
    'config.content_type': h.config?.content_type !== 'json',
    'config.insecure_ssl': String(h.config?.insecure_ssl ?? '0') !== (hook.insecureSsl ? '1' : '0'),
    'config.secret': (hook.secret !== undefined) !== Boolean(h.config?.secret),
  }),
};

export function githubClient(http: ProviderHttp, repository: string): ProviderClient {
  return hookClient(http, `/repos/${ownerAndName(repository)}/hooks`, GITHUB);
}
