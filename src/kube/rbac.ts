/**
 * Permissions as a run asks for them, and whether the run's identity holds them: rule matching against
 * SelfSubjectRulesReviews (a constant number of requests), SelfSubjectAccessReviews for whatever the rules do
 * not grant. Generic: which permissions a run needs is declared by each step (`Step.needs`, src/steps/) and
 * collected by the preflight.
 */
import { randomBytes } from 'node:crypto';
import { groupOf } from './objects.ts';
import type { Kube, ResourceRule, RulesReview } from './types.ts';

export interface Permission {
  verb: string;
  group: string;
  resource: string;
  /** Absent: cluster-wide. */
  namespace?: string | undefined;
  /**
   * Only these objects (the chart grants them by RBAC `resourceNames`); absent: any name. Reviewed name
   * by name; not part of describePermission (a missing one is reported as `… for <name>`).
   */
  names?: string[];
  /** Also satisfied by any of these (e.g. RBAC `escalate` or full access). */
  or?: Permission[];
}

export function describePermission(p: Permission): string {
  const one = (q: Permission) =>
    `${q.verb} ${q.group ? `${q.group}/` : ''}${q.resource}${q.namespace ? ` in ${q.namespace}` : ' (cluster-wide)'}`;
  return [p, ...(p.or ?? [])].map(one).join(' or ');
}

/** Lower-case plural resource of a kind, for the kinds an install manifest has. */
export function resourceOf(kind: string): string {
  const lower = kind.toLowerCase();
  if (lower.endsWith('y') && !/[aeiou]y$/.test(lower)) return `${lower.slice(0, -1)}ies`;
  if (/(s|x|ch|sh)$/.test(lower)) return `${lower}es`;
  return `${lower}s`;
}

const SSA = ['get', 'create', 'patch'];

/** Full access (`*` on `*`), in a namespace or cluster-wide: what also allows escalate and bind. */
export const fullAccess = (namespace?: string): Permission => ({
  verb: '*',
  group: '*',
  resource: '*',
  namespace,
});

/** Server-side apply (which creates when missing) of a kind in a namespace. */
export function applyPermissions(group: string, resource: string, namespace?: string): Permission[] {
  return SSA.map((verb) => ({ verb, group, resource, namespace }));
}

/**
 * Server-side apply of named objects: get and patch by name; create cannot be limited to names (RBAC
 * authorizes a create before the object has one), so it stays any name.
 */
export function applyNamedPermissions(
  group: string,
  resource: string,
  namespace: string | undefined,
  names: string[],
): Permission[] {
  return [
    { verb: 'get', group, resource, namespace, names },
    { verb: 'create', group, resource, namespace },
    { verb: 'patch', group, resource, namespace, names },
  ];
}

/** One permission per description; names united (any name wins). */
export function dedupePermissions(perms: readonly Permission[]): Permission[] {
  const byKey = new Map<string, Permission>();
  for (const p of perms) {
    const key = describePermission(p);
    const seen = byKey.get(key);
    if (!seen) byKey.set(key, p.names ? { ...p, names: [...new Set(p.names)] } : p);
    else if (seen.names)
      byKey.set(key, p.names ? { ...seen, names: [...new Set([...seen.names, ...p.names])] } : p);
  }
  return [...byKey.values()];
}

/** What a SelfSubjectRulesReview says is granted, per namespace ('' for cluster-wide rules only). */
type Granted = (q: Permission, name: string | undefined) => boolean;

const listed = (list: string[] | undefined, value: string) =>
  list !== undefined && (list.includes('*') || list.includes(value));

export function ruleGrants(rule: ResourceRule, q: Permission, name: string | undefined): boolean {
  if (!listed(rule.verbs, q.verb) || !listed(rule.apiGroups, q.group) || !listed(rule.resources, q.resource))
    return false;
  if (rule.resourceNames && rule.resourceNames.length > 0) {
    return name !== undefined && rule.resourceNames.includes(name);
  }
  return true;
}

/**
 * The rules of the run's identity, fetched once: one SelfSubjectRulesReview for the cluster-wide rules (in a
 * namespace that does not exist, so no RoleBinding adds to them) and one per namespace the permissions name,
 * in parallel — a constant number of requests whatever the number of environments. A permission they do
 * not grant (or an incomplete answer) is still asked with a SelfSubjectAccessReview: rules only ever say yes.
 */
async function rulesOf(kube: Kube, perms: Permission[]): Promise<Granted | undefined> {
  if (!kube.rules) return undefined;
  const namespaces = [
    ...new Set(perms.flatMap((p) => [p, ...(p.or ?? [])]).flatMap((q) => (q.namespace ? [q.namespace] : []))),
  ];
  const probe = `sd-gitops-bootstrap-no-such-namespace-${randomBytes(4).toString('hex')}`;
  let reviews: RulesReview[];
  try {
    reviews = await Promise.all([probe, ...namespaces].map((ns) => kube.rules!(ns)));
  } catch {
    return undefined; // e.g. an authorizer that does not answer rules reviews: ask one by one
  }
  const cluster = reviews[0]!.rules;
  const byNamespace = new Map(namespaces.map((ns, i) => [ns, reviews[i + 1]!.rules]));
  return (q, name) => {
    const rules = q.namespace ? (byNamespace.get(q.namespace) ?? cluster) : cluster;
    return rules.some((r) => ruleGrants(r, q, name));
  };
}

async function allowed(kube: Kube, p: Permission, name?: string, granted?: Granted): Promise<boolean> {
  if (granted && [p, ...(p.or ?? [])].some((q) => granted(q, name))) return true;
  for (const q of [p, ...(p.or ?? [])]) {
    const attrs = {
      verb: q.verb,
      group: q.group,
      resource: q.resource,
      ...(q.namespace ? { namespace: q.namespace } : {}),
      ...(name ? { name } : {}),
    };
    if (await kube.can(attrs)) return true;
  }
  return false;
}

/** '' when granted; else the description, with the names refused when the permission is by name. */
async function review(kube: Kube, p: Permission, granted?: Granted): Promise<string> {
  if (!p.names) return (await allowed(kube, p, undefined, granted)) ? '' : describePermission(p);
  const refused: string[] = [];
  for (const name of p.names) if (!(await allowed(kube, p, name, granted))) refused.push(name);
  return refused.length ? `${describePermission(p)} for ${refused.join(', ')}` : '';
}

/**
 * Reviews every permission: locally against the identity's rules where the client can fetch them
 * (`rulesOf`), otherwise — and for whatever they do not grant — by SelfSubjectAccessReview, a few at a time.
 * Returns the missing ones.
 */
export async function missingPermissions(
  kube: Kube,
  perms: Permission[],
  concurrency = 8,
): Promise<string[]> {
  const granted = await rulesOf(kube, perms);
  const results: string[] = new Array(perms.length);
  let next = 0;
  const worker = async () => {
    while (next < perms.length) {
      const i = next++;
      results[i] = await review(kube, perms[i]!, granted);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, perms.length) }, worker));
  return results.filter((r) => r !== '');
}

/**
 * `get` and `delete`, by name, of the objects a run removes (what the inventory lists); cluster-wide for
 * the kinds in `clusterScoped`.
 */
export function removalPermissions(
  members: readonly { apiVersion: string; kind: string; namespace?: string; name: string }[],
  clusterScoped: ReadonlySet<string>,
): Permission[] {
  return members.flatMap((d) =>
    ['get', 'delete'].map((verb) => ({
      verb,
      group: groupOf(d.apiVersion),
      resource: resourceOf(d.kind),
      namespace: clusterScoped.has(d.kind) ? undefined : d.namespace,
      names: [d.name],
    })),
  );
}
