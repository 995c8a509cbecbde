/**
 * An in-memory `Kube` for unit tests of steps and the runner: a thin adapter over the fake cluster's object
 * store (test/fakes/store.ts, which models resourceVersions, uids and server-side apply's field ownership).
 * Here is only what the client does on top of the server: the action and fields an apply reports, the
 * ApplySet member label, dry-run notes, counting requests and writes. It can also play the controllers:
 * workloads roll out and Applications sync as soon as they are stored. test/contract/kube.ts holds these
 * semantics to the real API server's.
 */
import { ApiError } from '../../src/errors.ts';
import { FIELD_MANAGER } from '../../src/kube/apply.ts';
import { diffObjects } from '../../src/kube/diff.ts';
import { refOf } from '../../src/kube/objects.ts';
import type {
  ApplyOptions,
  Kube,
  KubeObject,
  ObjectChange,
  ObjectRef,
  RequestStats,
} from '../../src/kube/types.ts';
import { BUILTIN_RESOURCES, FakeStore } from './store.ts';

/** Kinds served before anything is installed. */
const BUILTIN_KINDS = BUILTIN_RESOURCES.map((r) => `${r.group ? `${r.group}/` : ''}${r.version}/${r.kind}`);

export class FakeKube implements Kube {
  readonly defaultNamespace: string;
  readonly server = 'https://fake.example:6443';
  readonly stats: RequestStats = { requests: 0, writes: 0 };
  readonly store = new FakeStore();
  /** `verb group/resource namespace` (namespace '' for cluster-wide) that SelfSubjectAccessReview denies. */
  readonly denied = new Set<string>();
  readonly kinds = new Set(BUILTIN_KINDS);
  /** Play the controllers: roll out workloads, establish CRDs, sync Applications. */
  controllers = true;

  constructor(defaultNamespace = 'seldon-system') {
    this.defaultNamespace = defaultNamespace;
    this.store.onStore = (obj) => {
      if (this.controllers) this.playControllers(obj);
    };
  }

  /** Stored objects by `refKey`. */
  get objects(): Map<string, KubeObject> {
    return this.store.objects;
  }

  seed(...objs: KubeObject[]): this {
    for (const obj of objs) this.store.seed(obj);
    return this;
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
    try {
      if (method === 'GET') {
        const lease = this.store.get({
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          namespace: m[1],
          name: m[2] ?? '',
        });
        if (!lease) throw new ApiError('not found', { status: 404, method, path });
        return lease as T;
      }
      this.stats.writes++;
      const body = opts.body as KubeObject;
      if (method === 'POST') return this.store.create(body) as T;
      if (method === 'PUT') return this.store.update(body) as T;
      throw new ApiError(`fake: unsupported request ${method} ${path}`, { status: 405, method, path });
    } catch (err) {
      throw located(err, method, path);
    }
  }

  async get<T extends KubeObject = KubeObject>(ref: ObjectRef): Promise<T | null> {
    this.stats.requests++;
    return (this.store.get(ref) as T | undefined) ?? null;
  }

  async list<T extends KubeObject = KubeObject>(
    apiVersion: string,
    kind: string,
    opts: { namespace?: string; labelSelector?: string } = {},
  ): Promise<T[]> {
    this.stats.requests++;
    return this.store.list(apiVersion, kind, opts) as T[];
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
    const live = this.store.stored(ref);
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
    let applied: ReturnType<FakeStore['apply']>;
    try {
      applied = this.store.apply(obj, opts.fieldManager ?? FIELD_MANAGER, opts.dryRun);
    } catch (err) {
      const ns = ref.namespace;
      if (opts.dryRun && err instanceof ApiError && err.status === 404)
        return {
          ref,
          action: 'created',
          note: `namespace ${ns} does not exist yet; cannot dry-run`,
          object: null,
        };
      throw located(err, 'PATCH', '');
    }
    const { object, change, mine } = applied;
    if (change === 'none') return { ref, action: 'unchanged', ...tag, object };
    if (!opts.dryRun) this.stats.writes++;
    if (change === 'owners')
      // No value changed; the client reports the object updated if this manager's own entry moved.
      return mine
        ? { ref, action: 'updated', fields: ['metadata.managedFields'], ...tag, object }
        : { ref, action: 'unchanged', ...tag, object };
    if (!applied.live) return { ref, action: 'created', ...tag, object };
    return { ref, action: 'updated', fields: diffObjects(applied.live, object), ...tag, object };
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
    let deleted: boolean;
    try {
      deleted = this.store.delete(ref, opts);
    } catch (err) {
      throw located(err, 'DELETE', '');
    }
    if (deleted && !opts.dryRun) this.stats.writes++;
  }

  async can(attrs: { verb: string; group: string; resource: string; namespace?: string }): Promise<boolean> {
    this.stats.requests++;
    return !this.denied.has(`${attrs.verb} ${attrs.group}/${attrs.resource} ${attrs.namespace ?? ''}`);
  }

  async hasKind(apiVersion: string, kind: string): Promise<boolean> {
    return this.kinds.has(`${apiVersion}/${kind}`);
  }
}

/** A store error with the request it answers. */
function located(err: unknown, method: string, path: string): unknown {
  if (!(err instanceof ApiError) || err.method !== '') return err;
  return new ApiError(err.message, {
    ...(err.status !== undefined && { status: err.status }),
    ...(err.reason !== undefined && { reason: err.reason }),
    method,
    path,
  });
}
