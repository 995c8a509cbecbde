/**
 * The part of a provider client that GitHub, GitLab and Bitbucket share: list every page, create with
 * POST to the hooks collection, update one hook by id, count writes, list the settings that differ. Each
 * provider module gives only what differs, as a `HookApi`: its hook type, paging, request bodies and the
 * settings it compares.
 */
import type { ProviderHttp, ProviderResponse } from './http.ts';
import type { DesiredHook, LiveHook, ProviderClient } from './types.ts';

/** `owner/name` with each segment URL-encoded, the slash kept (GitHub's and Bitbucket's paths). */
export const ownerAndName = (repository: string) => repository.split('/').map(encodeURIComponent).join('/');

export interface HookApi<H> {
  /** The query of the first page's URL, e.g. `?per_page=100`. */
  firstPage: string;
  /** A page's hooks and the next page's URL; `base` is the hooks collection. */
  page: (res: ProviderResponse, base: string) => { items: H[]; next?: string | undefined };
  toLive: (hook: H) => LiveHook;
  /** The body of a create. */
  body: (hook: DesiredHook) => unknown;
  /** How one hook is updated: its method and body. */
  update: { method: 'PUT' | 'PATCH'; body: (hook: DesiredHook) => unknown };
  /** Each compared setting, by name, and whether the live hook's differs from the desired one. */
  differs: (live: H, hook: DesiredHook) => Record<string, boolean>;
}

/** A provider client on the hooks collection `base` (e.g. `/repos/o/r/hooks`). */
export function hookClient<H>(http: ProviderHttp, base: string, api: HookApi<H>): ProviderClient {
  const { toLive } = api;
  return {
    get writes() {
      return http.writes;
    },
    async list() {
      const hooks = await http.listPages(`${base}${api.firstPage}`, (res) => api.page(res, base));
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
      return Object.entries(api.differs(live.raw as unknown as H, hook))
        .filter(([, differs]) => differs)
        .map(([setting]) => setting);
    },
  };
}
