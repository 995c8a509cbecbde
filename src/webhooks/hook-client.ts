/**
 * The part of a provider client that GitHub, GitLab and Bitbucket share: list every page, create with
 * POST to the hooks collection, update one hook by id, count writes. Each provider module gives only what
 * differs: its hook type, paging, request bodies and the settings it compares.
 */
import type { ProviderHttp, ProviderResponse } from './http.ts';
import type { DesiredHook, LiveHook, ProviderClient } from './types.ts';

/** `owner/name` with each segment URL-encoded, the slash kept (GitHub's and Bitbucket's paths). */
export const ownerAndName = (repository: string) => repository.split('/').map(encodeURIComponent).join('/');

export interface HookApi<H> {
  http: ProviderHttp;
  /** The repository's hooks collection, e.g. `/repos/o/r/hooks`. */
  base: string;
  /** The first page's URL. */
  firstPage: string;
  /** A page's hooks and the next page's URL. */
  page: (res: ProviderResponse) => { items: H[]; next?: string | undefined };
  toLive: (hook: H) => LiveHook;
  /** The body of a create. */
  body: (hook: DesiredHook) => unknown;
  /** How one hook is updated: its method and body. */
  update: { method: 'PUT' | 'PATCH'; body: (hook: DesiredHook) => unknown };
  differences: (live: H, hook: DesiredHook) => string[];
}

export function hookClient<H>(api: HookApi<H>): ProviderClient {
  const { http, base, toLive } = api;
  return {
    get writes() {
      return http.writes;
    },
    async list() {
      const hooks = await http.listPages(api.firstPage, api.page);
      return hooks.map((h) => toLive(h));
    },
    async create(hook) {
      return toLive((await http.request('POST', base, api.body(hook))).body as H);
    },
    async update(id, hook) {
      const path = `${base}/${encodeURIComponent(id)}`;
      return toLive((await http.request(api.update.method, path, api.update.body(hook))).body as H);
    },
    differences(live, hook) {
      return api.differences(live.raw as unknown as H, hook);
    },
  };
}
