/**
 * The one object store behind both fake clusters: test/fakes/kube.ts (the `Kube` interface) and
 * test/fakes/kube-http.ts (kube-apiserver over HTTP, for `KubeClient`) are thin adapters over it.
 * It keeps what the server keeps: objects with a uid and a resourceVersion that moves only on a change (of
 * a value or of the ownership), create and optimistic-concurrency update, delete with a uid precondition,
 * label selectors, and server-side apply with field ownership per field manager: a manager's apply removes
 * the fields it applied last time but not this time, unless another manager owns them too; a field applied
 * with another value than its owner's is taken over (apply is always forced). Maps merge, lists are
 * replaced whole (owned as atomic lists are). test/contract/kube.ts holds these semantics to the real
 * API server's, through both adapters.
 */
import { isDeepStrictEqual } from 'node:util';
import { ApiError } from '../../src/errors.ts';
import { groupOf, refKey, refOf } from '../../src/kube/objects.ts';
import type { KubeObject, ObjectRef } from '../../src/kube/types.ts';

/** A REST resource of the fake: the kind, and how the HTTP adapter names and scopes it. */
export interface FakeResource {
  group: string;
  version: string;
  kind: string;
  plural: string;
  namespaced: boolean;
}

const resource = (group: string, kind: string, plural: string, namespaced = true): FakeResource => ({
  group,
  version: 'v1',
  kind,
  plural,
  namespaced,
});

/** Kinds served before anything is installed. */
export const BUILTIN_RESOURCES: FakeResource[] = [
  resource('', 'Namespace', 'namespaces', false),
  resource('', 'ConfigMap', 'configmaps'),
  resource('', 'Secret', 'secrets'),
  resource('', 'Service', 'services'),
  resource('', 'ServiceAccount', 'serviceaccounts'),
  resource('apps', 'Deployment', 'deployments'),
  resource('apps', 'StatefulSet', 'statefulsets'),
  resource('coordination.k8s.io', 'Lease', 'leases'),
  resource('apiextensions.k8s.io', 'CustomResourceDefinition', 'customresourcedefinitions', false),
  resource('rbac.authorization.k8s.io', 'Role', 'roles'),
  resource('rbac.authorization.k8s.io', 'RoleBinding', 'rolebindings'),
  resource('rbac.authorization.k8s.io', 'ClusterRole', 'clusterroles', false),
  resource('rbac.authorization.k8s.io', 'ClusterRoleBinding', 'clusterrolebindings', false),
  resource('networking.k8s.io', 'NetworkPolicy', 'networkpolicies'),
];

const isMap = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function merge(base: unknown, patch: unknown): unknown {
  if (!isMap(base) || !isMap(patch)) return structuredClone(patch);
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(patch)) out[k] = merge(out[k], v);
  return out;
}

/** Leaf paths of an applied object (lists are leaves), identity fields left out. */
function leafPaths(value: unknown, prefix: string[] = [], out: string[][] = []): string[][] {
  if (isMap(value) && Object.keys(value).length > 0) {
    for (const [k, v] of Object.entries(value)) leafPaths(v, [...prefix, k], out);
  } else if (prefix.length > 0) out.push(prefix);
  return out;
}

const IDENTITY = new Set(['apiVersion', 'kind', 'metadata.name', 'metadata.namespace']);

function removePath(obj: unknown, path: string[]): void {
  let node = obj;
  for (const seg of path.slice(0, -1)) {
    if (!isMap(node)) return;
    node = node[seg];
  }
  if (isMap(node)) delete node[path.at(-1)!];
}

function valueAt(obj: unknown, path: string[]): unknown {
  let node = obj;
  for (const seg of path) {
    if (!isMap(node)) return undefined;
    node = node[seg];
  }
  return node;
}

/** A label selector's terms: `k=v`, `k==v`, `k!=v`, `k` (exists), `!k` (does not). */
function selects(selector: string | undefined, labels: Record<string, string> = {}): boolean {
  return (selector ?? '')
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean)
    .every((term) => {
      const m = /^(!?)([^!=]+?)\s*(?:(!=|==|=)\s*(.*))?$/.exec(term);
      if (!m) throw fail(400, 'BadRequest', `fake: unsupported label selector ${selector}`);
      const [, not, key, op, value] = m as unknown as [string, string, string, string?, string?];
      if (op === undefined) return key in labels !== (not === '!');
      return op === '!=' ? labels[key] !== value : labels[key] === value;
    });
}

/** fieldsV1 of the owned leaf paths (lists owned whole, as atomic lists are). */
function fieldsV1(paths: string[][]): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const path of paths) {
    let node = root;
    for (const seg of path) {
      node[`f:${seg}`] ??= {};
      node = node[`f:${seg}`] as Record<string, unknown>;
    }
  }
  return root;
}

function comparable(o: KubeObject): unknown {
  const { resourceVersion: _rv, generation: _g, managedFields: _m, ...metadata } = o.metadata;
  const { status: _s, ...rest } = o as KubeObject & { status?: unknown };
  return { ...rest, metadata };
}

/** The store's errors, as the server's Status would carry them (the adapters add method and path). */
function fail(status: number, reason: string, message: string): ApiError {
  return new ApiError(message, { status, reason, method: '', path: '' });
}

const sameFields = (a: Set<string> | undefined, b: Set<string> | undefined) =>
  (a?.size ?? 0) === (b?.size ?? 0) && [...(a ?? [])].every((f) => b?.has(f));

/**
 * What an apply did: `values` (a value changed, or the object is new), `owners` (no value changed but the
 * ownership did; stored, the resourceVersion moved), `none`. `mine`: this manager's own entry moved.
 * `object` is the result (not stored in a dry-run), `live` the object before.
 */
export interface Applied {
  live: KubeObject | undefined;
  object: KubeObject;
  change: 'values' | 'owners' | 'none';
  mine: boolean;
}

export class FakeStore {
  /** Stored objects, by the adapter's key (`refKey` unless it gives one). */
  readonly objects = new Map<string, KubeObject>();
  private readonly keyOf: (ref: ObjectRef) => string;
  /** Per object, per field manager: the leaf paths (JSON) it owns, as its last apply left them. */
  private readonly owned = new Map<string, Map<string, Set<string>>>();
  /** Called on every object about to be stored (the adapters' controllers and server-set fields). */
  onStore: ((obj: KubeObject, live: KubeObject | undefined) => void) | undefined;
  private rv = 0;

  constructor(keyOf: (ref: ObjectRef) => string = refKey) {
    this.keyOf = keyOf;
  }

  /** The last resourceVersion handed out (a LIST's). */
  get resourceVersion(): string {
    return String(this.rv);
  }

  /** The stored object itself (not a copy). */
  stored(ref: ObjectRef): KubeObject | undefined {
    return this.objects.get(this.keyOf(ref));
  }

  get(ref: ObjectRef): KubeObject | undefined {
    const obj = this.stored(ref);
    return obj && structuredClone(obj);
  }

  list(apiVersion: string, kind: string, opts: { namespace?: string; labelSelector?: string } = {}) {
    return [...this.objects.values()]
      .filter((o) => groupOf(o.apiVersion) === groupOf(apiVersion) && o.kind === kind)
      .filter((o) => opts.namespace === undefined || o.metadata.namespace === opts.namespace)
      .filter((o) => selects(opts.labelSelector, o.metadata.labels))
      .map((o) => structuredClone(o));
  }

  /** Store as it is (a copy), as if someone else had written it. Returns the stored object. */
  seed(obj: KubeObject): KubeObject {
    return this.put(structuredClone(obj));
  }

  private put(obj: KubeObject): KubeObject {
    const live = this.stored(refOf(obj));
    this.onStore?.(obj, live);
    obj.metadata.resourceVersion = String(++this.rv);
    obj.metadata.uid ??= `uid-${this.rv}`;
    this.objects.set(this.keyOf(refOf(obj)), obj);
    return obj;
  }

  /** Another writer (a controller updating status): the resourceVersion moves, the ownership does not. */
  touch(ref: ObjectRef, status: Record<string, unknown>): void {
    const live = this.stored(ref);
    if (!live) throw new Error(`fake: ${this.keyOf(ref)} not found`);
    this.objects.set(this.keyOf(ref), {
      ...live,
      status,
      metadata: { ...live.metadata, resourceVersion: String(++this.rv) },
    });
  }

  /** POST: a new object; 409 AlreadyExists when there is one. Returns a copy of what was stored. */
  create(obj: KubeObject): KubeObject {
    const body = structuredClone(obj);
    if (this.stored(refOf(body)))
      throw fail(409, 'AlreadyExists', `${plural(body)} "${body.metadata.name}" already exists`);
    delete body.metadata.uid;
    return structuredClone(this.put(body));
  }

  /** PUT: replaces the object, from its current resourceVersion only (409 Conflict otherwise). */
  update(obj: KubeObject): KubeObject {
    const body = structuredClone(obj);
    const live = this.stored(refOf(body));
    const name = `${plural(body)} "${body.metadata.name}"`;
    if (!live) throw fail(404, 'NotFound', `${name} not found`);
    if (body.metadata.resourceVersion !== live.metadata.resourceVersion)
      throw fail(
        409,
        'Conflict',
        `Operation cannot be fulfilled on ${name}: the object has been modified; please apply your changes to the latest version and try again`,
      );
    body.metadata.uid = live.metadata.uid;
    return structuredClone(this.put(body));
  }

  /** DELETE; false when there was nothing to delete. The uid precondition holds in a dry-run too. */
  delete(ref: ObjectRef, opts: { dryRun?: boolean; uid?: string } = {}): boolean {
    const live = this.stored(ref);
    if (!live) return false;
    if (opts.uid !== undefined && live.metadata.uid !== opts.uid)
      throw fail(
        409,
        'Conflict',
        `Precondition failed: UID in precondition: ${opts.uid}, UID in object meta: ${live.metadata.uid}`,
      );
    if (opts.dryRun) return true;
    this.objects.delete(this.keyOf(ref));
    this.owned.delete(this.keyOf(ref));
    return true;
  }

  /** Server-side apply of `obj` by `manager`, forced. A new object's namespace must exist (404). */
  apply(obj: KubeObject, manager: string, dryRun = false): Applied {
    const ref = refOf(obj);
    const key = this.keyOf(ref);
    const live = this.stored(ref);
    if (
      !live &&
      ref.namespace !== undefined &&
      !this.stored({ apiVersion: 'v1', kind: 'Namespace', name: ref.namespace })
    )
      throw fail(404, 'NotFound', `namespaces "${ref.namespace}" not found`);
    const paths = leafPaths(obj).filter((p) => !IDENTITY.has(p.join('.')));
    const now = new Set(paths.map((p) => JSON.stringify(p)));
    // Every other manager keeps what it owns, except a field this apply sets to another value: forced,
    // it changes hands. A field applied with the same value is then owned by both.
    const managers = new Map<string, Set<string>>();
    for (const [other, fields] of this.owned.get(key) ?? []) {
      if (other === manager) continue;
      const kept = [...fields].filter((f) => {
        if (!now.has(f)) return true;
        const path = JSON.parse(f) as string[];
        return isDeepStrictEqual(valueAt(live, path), valueAt(obj, path));
      });
      if (kept.length > 0) managers.set(other, new Set(kept));
    }
    const ownedByOthers = new Set([...managers.values()].flatMap((fields) => [...fields]));
    // A deep copy: removing fields below must never touch the stored object (a dry-run would change it).
    const next = structuredClone(live ? merge(live, obj) : obj) as KubeObject;
    for (const old of this.owned.get(key)?.get(manager) ?? [])
      if (!now.has(old) && !ownedByOthers.has(old)) removePath(next, JSON.parse(old) as string[]);
    managers.set(manager, now);
    const stored = this.owned.get(key) ?? new Map<string, Set<string>>();
    const mine = !sameFields(stored.get(manager), managers.get(manager));
    let change: Applied['change'] = 'values';
    if (live && isDeepStrictEqual(comparable(live), comparable(next))) {
      // No value changes. When the ownership does, the server stores it (the resourceVersion moves).
      const names = new Set([...stored.keys(), ...managers.keys()]);
      if (dryRun || [...names].every((m) => sameFields(stored.get(m), managers.get(m))))
        return { live: structuredClone(live), object: structuredClone(live), change: 'none', mine: false };
      change = 'owners';
    }
    next.metadata.managedFields = [...managers].map(([m, owned]) => ({
      manager: m,
      operation: 'Apply',
      apiVersion: obj.apiVersion,
      fieldsType: 'FieldsV1',
      fieldsV1: fieldsV1([...owned].map((f) => JSON.parse(f) as string[])),
    }));
    const before = live && structuredClone(live);
    if (dryRun) return { live: before, object: next, change, mine };
    this.owned.set(key, managers);
    return { live: before, object: structuredClone(this.put(next)), change, mine };
  }
}

/** The resource name a Status message uses (`configmaps`), near enough for a fake. */
function plural(obj: KubeObject): string {
  return `${obj.kind.toLowerCase()}s`;
}
