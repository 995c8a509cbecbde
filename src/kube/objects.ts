/**
 * Helpers on Kubernetes objects that every layer above uses: naming them (one `describeRef`, one `groupOf`),
 * keying them, laying one over another, comparing desired with live, and reading a Secret.
 */
import type { Kube, KubeObject, ObjectRef } from './types.ts';

/** The API group of an apiVersion: `apps/v1` → `apps`, `v1` → `` (the core group). */
export function groupOf(apiVersion: string): string {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}

export function refOf(obj: KubeObject): ObjectRef {
  return {
    apiVersion: obj.apiVersion,
    kind: obj.kind,
    name: obj.metadata.name,
    namespace: obj.metadata.namespace,
  };
}

/**
 * `ConfigMap argocd/argocd-cm`, `ClusterRole argocd-server`; with `group: true` (plan output) the kind is
 * qualified by its API group: `Deployment.apps argocd/argocd-server`.
 */
export function describeRef(
  ref: Pick<ObjectRef, 'kind' | 'name' | 'namespace'> & { apiVersion?: string },
  opts: { group?: boolean } = {},
): string {
  const group = opts.group && ref.apiVersion ? groupOf(ref.apiVersion) : '';
  return `${ref.kind}${group ? `.${group}` : ''} ${ref.namespace ? `${ref.namespace}/` : ''}${ref.name}`;
}

/** One key per object: group, kind, namespace and name (the version does not make another object). */
export function refKey(ref: ObjectRef): string {
  return `${groupOf(ref.apiVersion)}/${ref.kind}/${ref.namespace ?? ''}/${ref.name}`;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** `patch` laid over `base`: maps merge key by key, anything else (lists included) is replaced. */
export function overlay<T>(base: T, patch: unknown): T {
  if (!isPlainObject(base) || !isPlainObject(patch)) return structuredClone(patch) as T;
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(patch))
    out[key] = key in out ? overlay(out[key], value) : structuredClone(value);
  return out as T;
}

/**
 * True when every field of `desired` is in `live` with the same value (maps compared key by key, lists item
 * by item with equal lengths). Fields the server added (defaults, status) do not matter.
 */
export function includesDesired(live: unknown, desired: unknown): boolean {
  if (Array.isArray(desired)) {
    return (
      Array.isArray(live) &&
      live.length === desired.length &&
      desired.every((d, i) => includesDesired(live[i], d))
    );
  }
  if (typeof desired === 'object' && desired !== null) {
    if (typeof live !== 'object' || live === null || Array.isArray(live)) return false;
    return Object.entries(desired).every(([k, v]) =>
      includesDesired((live as Record<string, unknown>)[k], v),
    );
  }
  return live === desired;
}

/** A Secret's data, decoded; null when the Secret does not exist. */
export async function readSecret(
  kube: Kube,
  namespace: string,
  name: string,
): Promise<Record<string, string> | null> {
  const secret = await kube.get<KubeObject & { data?: Record<string, string> }>({
    apiVersion: 'v1',
    kind: 'Secret',
    namespace,
    name,
  });
  if (!secret) return null;
  return Object.fromEntries(
    Object.entries(secret.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]),
  );
}
