/**
 * apiVersion + kind → REST resource, from API discovery (`/api/v1`, `/apis/<group>/<version>`).
 * One request per group/version per run; a kind missing from the cache is looked up again once (a CRD
 * may have been created since), so a run that installs CRDs and then uses them needs no restart.
 */
import { ApiError } from '../errors.ts';
import type { ObjectRef } from './types.ts';

export interface ResourceInfo {
  group: string;
  version: string;
  kind: string;
  /** Plural resource name used in URLs (`configmaps`). */
  plural: string;
  namespaced: boolean;
}

interface APIResourceList {
  resources?: { name: string; kind: string; namespaced: boolean }[];
}

export type DiscoveryFetch = (path: string) => Promise<unknown>;

export function splitApiVersion(apiVersion: string): { group: string; version: string } {
  const slash = apiVersion.indexOf('/');
  return slash < 0
    ? { group: '', version: apiVersion }
    : { group: apiVersion.slice(0, slash), version: apiVersion.slice(slash + 1) };
}

/** The discovery document's path for a group/version. */
export function groupVersionPath(apiVersion: string): string {
  const { group, version } = splitApiVersion(apiVersion);
  return group === '' ? `/api/${version}` : `/apis/${group}/${version}`;
}

/** URL path of a collection (no name) or one object. */
export function resourcePath(info: ResourceInfo, namespace?: string, name?: string): string {
  const base = groupVersionPath(info.group === '' ? info.version : `${info.group}/${info.version}`);
  const ns = info.namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
  const tail = name === undefined ? '' : `/${encodeURIComponent(name)}`;
  return `${base}${ns}/${info.plural}${tail}`;
}

export class Discovery {
  /** group/version → kind → info; null = the group/version is not served. */
  private readonly cache = new Map<string, Map<string, ResourceInfo> | null>();
  private readonly inflight = new Map<string, Promise<Map<string, ResourceInfo> | null>>();

  private readonly fetch: DiscoveryFetch;

  constructor(fetch: DiscoveryFetch) {
    this.fetch = fetch;
  }

  /** The resource for a kind, or null when the API does not serve it (even after a fresh look). */
  async resolve(apiVersion: string, kind: string): Promise<ResourceInfo | null> {
    const cached = this.cache.get(apiVersion);
    const hit = cached?.get(kind);
    if (hit) return hit;
    const fresh = await this.load(apiVersion);
    return fresh?.get(kind) ?? null;
  }

  async hasKind(apiVersion: string, kind: string): Promise<boolean> {
    return (await this.resolve(apiVersion, kind)) !== null;
  }

  /** Like resolve, but throws an ApiError naming the kind when the API does not serve it. */
  async require(ref: Pick<ObjectRef, 'apiVersion' | 'kind'>): Promise<ResourceInfo> {
    const info = await this.resolve(ref.apiVersion, ref.kind);
    if (info) return info;
    const path = groupVersionPath(ref.apiVersion);
    throw new ApiError(
      `the cluster does not serve kind ${ref.kind} in ${ref.apiVersion} (is its CustomResourceDefinition installed?)`,
      { status: 404, reason: 'NotFound', method: 'GET', path },
    );
  }

  /** Forget one group/version (or everything). */
  invalidate(apiVersion?: string): void {
    if (apiVersion === undefined) this.cache.clear();
    else this.cache.delete(apiVersion);
  }

  private load(apiVersion: string): Promise<Map<string, ResourceInfo> | null> {
    const running = this.inflight.get(apiVersion);
    if (running) return running;
    const promise = this.fetchGroupVersion(apiVersion).finally(() => this.inflight.delete(apiVersion));
    this.inflight.set(apiVersion, promise);
    return promise;
  }

  private async fetchGroupVersion(apiVersion: string): Promise<Map<string, ResourceInfo> | null> {
    const { group, version } = splitApiVersion(apiVersion);
    let list: APIResourceList;
    try {
      list = (await this.fetch(groupVersionPath(apiVersion))) as APIResourceList;
    } catch (err) {
      // 404: the group/version is not served (yet). 503 comes from an aggregated API that is down.
      if (err instanceof ApiError && err.status === 404) {
        this.cache.set(apiVersion, null);
        return null;
      }
      throw err;
    }
    const kinds = new Map<string, ResourceInfo>();
    for (const r of list.resources ?? []) {
      if (r.name.includes('/')) continue; // subresources: deployments/scale, pods/log …
      if (!kinds.has(r.kind))
        kinds.set(r.kind, { group, version, kind: r.kind, plural: r.name, namespaced: r.namespaced });
    }
    this.cache.set(apiVersion, kinds);
    return kinds;
  }
}
