/**
 * An in-memory `Kube` for unit tests of steps and the runner. Apply merges maps and replaces lists, and
 * keeps server-side apply's field ownership per field manager: a manager's apply removes the fields it
 * applied last time but not this time, unless another manager owns them too; a field applied with another
 * value than its owner's is taken over (apply is always forced). Objects get a uid and a resourceVersion
 * that moves only on a change (of a value or of the ownership); Lease writes through `request` are checked
 * against the resourceVersion.
 * It counts writes, and can play the controllers: workloads roll out and Applications sync as soon as they
 * are stored. test/contract/kube.ts holds these semantics to the real API server's.
 */
import { isDeepStrictEqual } from 'node:util';
import { ApiError } from '../../src/errors.ts';
import { FIELD_MANAGER } from '../../src/kube/apply.ts';
import { diffObjects } from '../../src/kube/diff.ts';
import { groupOf, refKey } from '../../src/kube/objects.ts';
import type {
  ApplyOptions,
  Kube,
  KubeObject,
  ObjectChange,
  ObjectRef,
  RequestStats,
} from '../../src/kube/types.ts';

const keyOf = refKey;
const refOf = (o: KubeObject): ObjectRef => ({
  apiVersion: o.apiVersion,
  kind: o.kind,
  name: o.metadata.name,
  namespace: o.metadata.namespace,
});

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
      if (!m)
        throw new ApiError(`fake: unsupported label selector ${selector}`, {
          status: 400,
          method: 'GET',
          path: '',
        });
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

/** Kinds served before anything is installed. */
const BUILTIN_KINDS = [
  'v1/Namespace',
  'v1/Secret',
  'v1/ConfigMap',
  'v1/Service',
  'v1/ServiceAccount',
  'apps/v1/Deployment',
  'apps/v1/StatefulSet',
  'rbac.authorization.k8s.io/v1/Role',
  'rbac.authorization.k8s.io/v1/RoleBinding',
  'rbac.authorization.k8s.io/v1/ClusterRole',
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding',
  'networking.k8s.io/v1/NetworkPolicy',
  'apiextensions.k8s.io/v1/CustomResourceDefinition',
  'coordination.k8s.io/v1/Lease',
];

export class FakeKube implements Kube {
  readonly defaultNamespace: string;
  readonly server = 'https://fake.example:6443';
  readonly stats: RequestStats = { requests: 0, writes: 0 };
  readonly objects = new Map<string, KubeObject>();
  /** `verb group/resource namespace` (namespace '' for cluster-wide) that SelfSubjectAccessReview denies. */
  readonly denied = new Set<string>();
  /** Per object, per field manager: the leaf paths (JSON) it owns, as its last apply left them. */
  private readonly owned = new Map<string, Map<string, Set<string>>>();
  readonly kinds = new Set(BUILTIN_KINDS);
  /** Play the controllers: roll out workloads, establish CRDs, sync Applications. */
  controllers = true;
  private rv = 0;

  constructor(defaultNamespace = 'seldon-system') {
    this.defaultNamespace = defaultNamespace;
  }

  seed(...objs: KubeObject[]): this {
    for (const obj of objs) this.store(structuredClone(obj));
    return this;
  }

  private store(obj: KubeObject): KubeObject {
    obj.metadata.resourceVersion = String(++this.rv);
    obj.metadata.uid ??= `uid-${this.rv}`;
    if (this.controllers) this.playControllers(obj);
    this.objects.set(keyOf(refOf(obj)), obj);
    return obj;
  }

  private playControllers(obj: KubeObject & { status?: unknown; spec?: Record<string, unknown> }): void {
    const generation = Number(obj.metadata.generation ?? 0) + 1;
    obj.metadata.generation = generation;
    const replicas = (obj.spec?.replicas as number | undefined) ?? 1;
    if (obj.kind === 'Deployment') {
      obj.status = {
        observedGeneration: generation,
        replicas,
        updatedReplicas: replicas,
        readyReplicas: replicas,
        availableReplicas: replicas,
      };
    } else if (obj.kind === 'StatefulSet') {
      obj.status = {
        observedGeneration: generation,
        replicas,
        readyReplicas: replicas,
        updatedReplicas: replicas,
        currentReplicas: replicas,
        currentRevision: 'r1',
        updateRevision: 'r1',
      };
    } else if (obj.kind === 'CustomResourceDefinition') {
      const spec = obj.spec as { group: string; versions: { name: string }[]; names: { kind: string } };
      for (const v of spec.versions ?? []) this.kinds.add(`${spec.group}/${v.name}/${spec.names.kind}`);
      obj.status = { conditions: [{ type: 'Established', status: 'True' }] };
    } else if (obj.kind === 'Application') {
      obj.status = { sync: { status: 'Synced' }, health: { status: 'Healthy' } };
    }
  }

  async request<T = unknown>(
    method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
    path: string,
    opts: { body?: unknown } = {},
  ): Promise<T> {
    this.stats.requests++;
    const m = /^\/apis\/coordination\.k8s\.io\/v1\/namespaces\/([^/]+)\/leases(?:\/([^/]+))?$/.exec(path);
    if (!m) throw new ApiError(`fake: unsupported request ${method} ${path}`, { status: 404, method, path });
    const ref = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', namespace: m[1], name: m[2] ?? '' };
    if (method === 'GET') {
      const lease = this.objects.get(keyOf(ref));
      if (!lease) throw new ApiError('not found', { status: 404, method, path });
      return structuredClone(lease) as T;
    }
    this.stats.writes++;
    const body = structuredClone(opts.body) as KubeObject;
    const live = this.objects.get(keyOf(refOf(body)));
    if (method === 'POST' && live) {
      throw new ApiError('already exists', { status: 409, reason: 'AlreadyExists', method, path });
    }
    if (method === 'PUT') {
      if (!live) throw new ApiError('not found', { status: 404, method, path });
      if (body.metadata.resourceVersion !== live.metadata.resourceVersion)
        throw new ApiError('the object has been modified', { status: 409, reason: 'Conflict', method, path });
      body.metadata.uid = live.metadata.uid;
    }
    return structuredClone(this.store(body)) as T;
  }

  async get<T extends KubeObject = KubeObject>(ref: ObjectRef): Promise<T | null> {
    this.stats.requests++;
    const obj = this.objects.get(keyOf(ref));
    return obj ? (structuredClone(obj) as T) : null;
  }

  async list<T extends KubeObject = KubeObject>(
    apiVersion: string,
    kind: string,
    opts: { namespace?: string; labelSelector?: string } = {},
  ): Promise<T[]> {
    this.stats.requests++;
    return [...this.objects.values()]
      .filter((o) => groupOf(o.apiVersion) === groupOf(apiVersion) && o.kind === kind)
      .filter((o) => opts.namespace === undefined || o.metadata.namespace === opts.namespace)
      .filter((o) => selects(opts.labelSelector, o.metadata.labels))
      .map((o) => structuredClone(o) as T);
  }

  async apply(
    obj: KubeObject,
    opts: ApplyOptions = {},
  ): Promise<ObjectChange & { object: KubeObject | null }> {
    this.stats.requests++;
    const ref = refOf(obj);
    if (!(await this.hasKind(obj.apiVersion, obj.kind))) {
      if (opts.dryRun)
        return { ref, action: 'created', note: 'its CRD does not exist yet; cannot dry-run', object: null };
      throw new ApiError(`fake: no kind ${obj.apiVersion} ${obj.kind}`, {
        status: 404,
        method: 'PATCH',
        path: '',
      });
    }
    const key = keyOf(ref);
    const live = this.objects.get(key);
    const partOf = 'applyset.kubernetes.io/part-of';
    const member =
      opts.partOf !== undefined &&
      ((!live && !opts.partOfKeepOnly) ||
        live?.metadata.labels?.[partOf] === opts.partOf ||
        (!opts.partOfKeepOnly &&
          opts.createdFor !== undefined &&
          live?.metadata.annotations?.['sd-gitops-bootstrap/created-for'] === opts.createdFor));
    if (member) {
      obj = structuredClone(obj);
      obj.metadata.labels = { ...obj.metadata.labels, [partOf]: opts.partOf! };
    }
    const tag = member ? { member: true } : {};
    const manager = opts.fieldManager ?? FIELD_MANAGER;
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
    const managedFields = [...managers].map(([m, owned]) => ({
      manager: m,
      operation: 'Apply',
      apiVersion: obj.apiVersion,
      fieldsType: 'FieldsV1',
      fieldsV1: fieldsV1([...owned].map((f) => JSON.parse(f) as string[])),
    }));
    if (live && isDeepStrictEqual(comparable(live), comparable(next))) {
      // No value changes. When the ownership does, the server stores it (the resourceVersion moves), and
      // the client reports the object updated if this manager's own entry moved.
      const same = (a: Set<string> | undefined, b: Set<string> | undefined) =>
        (a?.size ?? 0) === (b?.size ?? 0) && [...(a ?? [])].every((f) => b?.has(f));
      const stored = this.owned.get(key) ?? new Map<string, Set<string>>();
      const names = new Set([...stored.keys(), ...managers.keys()]);
      if (opts.dryRun || [...names].every((m) => same(stored.get(m), managers.get(m))))
        return { ref, action: 'unchanged', ...tag, object: structuredClone(live) };
      const mine = !same(stored.get(manager), managers.get(manager));
      this.stats.writes++;
      this.owned.set(key, managers);
      next.metadata.managedFields = managedFields;
      const object = structuredClone(this.store(next));
      return mine
        ? { ref, action: 'updated', fields: ['metadata.managedFields'], ...tag, object }
        : { ref, action: 'unchanged', ...tag, object };
    }
    const action = live ? 'updated' : 'created';
    const fields = live ? { fields: diffObjects(live, next) } : {};
    const ns = ref.namespace;
    if (
      !live &&
      ns !== undefined &&
      !this.objects.has(keyOf({ apiVersion: 'v1', kind: 'Namespace', name: ns }))
    ) {
      if (opts.dryRun)
        return { ref, action, note: `namespace ${ns} does not exist yet; cannot dry-run`, object: null };
      throw new ApiError(`namespaces "${ns}" not found`, { status: 404, method: 'PATCH', path: '' });
    }
    if (opts.dryRun) return { ref, action, ...fields, ...tag, object: next };
    this.stats.writes++;
    this.owned.set(key, managers);
    next.metadata.managedFields = managedFields;
    return { ref, action, ...fields, ...tag, object: structuredClone(this.store(next)) };
  }

  async applyAll(objs: KubeObject[], opts: ApplyOptions = {}): Promise<ObjectChange[]> {
    const first = (o: KubeObject) =>
      o.kind === 'CustomResourceDefinition' || o.kind === 'Namespace' ? 0 : 1;
    const ordered = [...objs].sort((a, b) => first(a) - first(b));
    const out: ObjectChange[] = [];
    for (const obj of ordered) {
      const { object: _o, ...change } = await this.apply(obj, opts);
      out.push(change);
    }
    return out;
  }

  async delete(ref: ObjectRef, opts: { dryRun?: boolean; uid?: string } = {}): Promise<void> {
    this.stats.requests++;
    if (opts.dryRun) return;
    const live = this.objects.get(keyOf(ref));
    if (live && opts.uid !== undefined && live.metadata.uid !== opts.uid) {
      throw new ApiError('precondition failed: uid', { status: 409, method: 'DELETE', path: '' });
    }
    if (this.objects.delete(keyOf(ref))) {
      this.stats.writes++;
      this.owned.delete(keyOf(ref));
    }
  }

  async can(attrs: { verb: string; group: string; resource: string; namespace?: string }): Promise<boolean> {
    this.stats.requests++;
    return !this.denied.has(`${attrs.verb} ${attrs.group}/${attrs.resource} ${attrs.namespace ?? ''}`);
  }

  async hasKind(apiVersion: string, kind: string): Promise<boolean> {
    return this.kinds.has(`${apiVersion}/${kind}`);
  }
}
