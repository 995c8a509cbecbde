/**
 * An in-memory stand-in for kube-apiserver at the HTTP level, for unit tests of code that talks to
 * Kubernetes through `KubeClient` (src/kube and the steps). The objects and their semantics —
 * resourceVersions, uids, server-side apply with field ownership, conflicts, preconditions — are the
 * fake cluster's store (test/fakes/store.ts), the same one FakeKube adapts; here is only the HTTP side:
 * paths, discovery documents, Status errors, SelfSubjectAccessReview, CRDs that become Established and
 * served after a few GETs, injectable faults and a log of every request. No defaulting, no validation.
 * test/contract/kube.ts holds the store to the real server, through this fake too.
 */
import { ApiError } from '../../src/errors.ts';
import { KubeClient } from '../../src/kube/client.ts';
import { splitApiVersion } from '../../src/kube/discovery.ts';
import { refOf } from '../../src/kube/objects.ts';
import type { HttpRequest, HttpResponse, Transport } from '../../src/kube/retry.ts';
import type { KubeObject, ObjectRef } from '../../src/kube/types.ts';
import { BUILTIN_RESOURCES, type FakeResource, FakeStore } from './store.ts';

type Fault = (req: HttpRequest) => HttpResponse | Error | undefined;

interface Parsed {
  resource: FakeResource;
  namespace: string | undefined;
  name: string | undefined;
}

function json(status: number, body: unknown): HttpResponse {
  return { status, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}

function statusError(code: number, reason: string, message: string): HttpResponse {
  return json(code, { kind: 'Status', apiVersion: 'v1', status: 'Failure', message, reason, code });
}

const apiVersionOf = (r: FakeResource) => (r.group ? `${r.group}/${r.version}` : r.version);

export class FakeApiServer {
  /** The objects, keyed by their canonical path (`/api/v1/namespaces/argocd/configmaps/argocd-cm`). */
  readonly store = new FakeStore((ref) => this.refPath(ref));
  /** Every request received, in order. */
  readonly requests: HttpRequest[] = [];
  /** Consulted first, in order; a fault that returns something answers the request (once). */
  readonly faults: Fault[] = [];
  /** SelfSubjectAccessReview answers; default allow. */
  allow: (attrs: Record<string, unknown>) => boolean = () => true;
  /** GETs of a new CRD before it reports Established (and its kind is served). */
  crdEstablishAfterGets = 1;
  private resources: FakeResource[];
  private readonly crdPending = new Map<string, number>();

  constructor(resources: FakeResource[] = BUILTIN_RESOURCES) {
    this.resources = [...resources];
    // What the server sets on every write; a new CRD starts not Established.
    this.store.onStore = (obj, live) => {
      obj.metadata.creationTimestamp = live?.metadata.creationTimestamp ?? '2026-01-01T00:00:00Z';
      obj.metadata.generation = ((live?.metadata.generation as number | undefined) ?? 0) + 1;
      if (obj.kind === 'CustomResourceDefinition' && !live) {
        obj.status = { conditions: [{ type: 'Established', status: 'False' }] };
        this.crdPending.set(obj.metadata.name, this.crdEstablishAfterGets);
      }
    };
  }

  /** Stored objects by canonical path. */
  get objects(): Map<string, KubeObject> {
    return this.store.objects;
  }

  readonly transport: Transport = async (req) => {
    this.requests.push(req);
    for (let i = 0; i < this.faults.length; i++) {
      const answer = this.faults[i]?.(req);
      if (answer !== undefined) {
        this.faults.splice(i, 1);
        if (answer instanceof Error) throw answer;
        return answer;
      }
    }
    try {
      return this.handle(req);
    } catch (err) {
      if (err instanceof ApiError && err.status !== undefined)
        return statusError(err.status, err.reason ?? 'Unknown', err.message);
      throw err;
    }
  };

  /** A KubeClient talking to this fake (retries fast, CRD waits short). */
  client(defaultNamespace = 'default'): KubeClient {
    return new KubeClient({
      transport: this.transport,
      server: 'https://fake.k8s.test',
      defaultNamespace,
      retry: { baseDelayMs: 1, maxDelayMs: 5, deadlineMs: 2_000 },
      crdTimeoutMs: 2_000,
      crdIntervalMs: 5,
    });
  }

  addResource(r: FakeResource): void {
    if (!this.resources.some((x) => x.group === r.group && x.version === r.version && x.kind === r.kind)) {
      this.resources.push(r);
    }
  }

  /** Store an object as if someone else had created it. Returns the stored copy. */
  seed(obj: KubeObject): KubeObject {
    if (!this.resourceOf(obj)) throw new Error(`fake: no resource for ${obj.apiVersion} ${obj.kind}`);
    return this.store.seed(obj);
  }

  /** Another writer (e.g. a controller updating status) moves the resourceVersion. */
  touch(obj: KubeObject, status: Record<string, unknown>): void {
    this.store.touch(refOf(obj), status);
  }

  stored(obj: Pick<KubeObject, 'apiVersion' | 'kind' | 'metadata'>): KubeObject | undefined {
    return this.store.stored(refOf(obj as KubeObject));
  }

  /** Requests that would persist something. */
  writes(): HttpRequest[] {
    return this.requests.filter((r) => r.method !== 'GET' && !new URL(r.url).searchParams.has('dryRun'));
  }

  pathOf(obj: Pick<KubeObject, 'apiVersion' | 'kind' | 'metadata'>): string {
    return this.refPath(refOf(obj as KubeObject));
  }

  private refPath(ref: ObjectRef): string {
    const r = this.resourceOf(ref);
    if (!r) return `/unknown/${ref.kind}/${ref.name}`;
    const prefix = r.group === '' ? `/api/${r.version}` : `/apis/${r.group}/${r.version}`;
    const ns = r.namespaced ? `/namespaces/${ref.namespace}` : '';
    return `${prefix}${ns}/${r.plural}/${ref.name}`;
  }

  private resourceOf(obj: Pick<KubeObject, 'apiVersion' | 'kind'>): FakeResource | undefined {
    const { group, version } = splitApiVersion(obj.apiVersion);
    return this.resources.find((x) => x.group === group && x.version === version && x.kind === obj.kind);
  }

  private parse(path: string): Parsed | null {
    const m = /^\/(?:api\/(?<v1>[^/]+)|apis\/(?<group>[^/]+)\/(?<version>[^/]+))\/(?<rest>.+)$/.exec(path);
    if (!m?.groups) return null;
    const group = m.groups.group ?? '';
    const version = m.groups.version ?? m.groups.v1 ?? '';
    const segs = (m.groups.rest ?? '').split('/').map(decodeURIComponent);
    let namespace: string | undefined;
    if (segs[0] === 'namespaces' && segs.length >= 3) {
      namespace = segs[1];
      segs.splice(0, 2);
    }
    const [plural, name] = segs;
    const resource = this.resources.find(
      (r) => r.group === group && r.version === version && r.plural === plural,
    );
    if (!resource) return null;
    return { resource, namespace, name };
  }

  private handle(req: HttpRequest): HttpResponse {
    const url = new URL(req.url);
    const path = url.pathname;

    const gv = /^\/(?:api\/([^/]+)|apis\/([^/]+)\/([^/]+))$/.exec(path);
    if (gv && req.method === 'GET') {
      const group = gv[2] ?? '';
      const version = gv[1] ?? gv[3] ?? '';
      const list = this.resources.filter((r) => r.group === group && r.version === version);
      if (list.length === 0)
        return statusError(404, 'NotFound', 'the server could not find the requested resource');
      return json(200, {
        kind: 'APIResourceList',
        groupVersion: group ? `${group}/${version}` : version,
        resources: list.map((r) => ({ name: r.plural, kind: r.kind, namespaced: r.namespaced, verbs: [] })),
      });
    }

    if (path === '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews' && req.method === 'POST') {
      const review = JSON.parse(req.body ?? '{}') as {
        spec?: { resourceAttributes?: Record<string, unknown> };
      };
      return json(201, { ...review, status: { allowed: this.allow(review.spec?.resourceAttributes ?? {}) } });
    }

    const parsed = this.parse(path);
    if (!parsed) return statusError(404, 'NotFound', 'the server could not find the requested resource');
    const { resource, namespace, name } = parsed;
    const apiVersion = apiVersionOf(resource);
    const ref: ObjectRef = {
      apiVersion,
      kind: resource.kind,
      name: name ?? '',
      ...(resource.namespaced && { namespace }),
    };
    const notFound = () => statusError(404, 'NotFound', `${resource.plural} "${name}" not found`);
    /** A body for this resource: its identity from the path, as the server takes it. */
    const body = (): KubeObject => {
      const obj = JSON.parse(req.body ?? '{}') as KubeObject;
      const metadata = { ...obj.metadata, ...(name !== undefined && { name }) };
      if (resource.namespaced && namespace !== undefined) metadata.namespace = namespace;
      else delete metadata.namespace;
      return { ...obj, apiVersion, kind: resource.kind, metadata };
    };
    const dryRun = url.searchParams.get('dryRun') === 'All';

    switch (req.method) {
      case 'GET': {
        if (name === undefined) {
          const items = this.store
            .list(apiVersion, resource.kind, {
              ...(namespace !== undefined && { namespace }),
              ...(url.searchParams.has('labelSelector') && {
                labelSelector: url.searchParams.get('labelSelector')!,
              }),
            })
            .map(({ apiVersion: _a, kind: _k, ...rest }) => rest);
          return json(200, {
            kind: `${resource.kind}List`,
            metadata: { resourceVersion: this.store.resourceVersion },
            items,
          });
        }
        if (!this.store.stored(ref)) return notFound();
        if (resource.kind === 'CustomResourceDefinition') this.progressCrd(ref);
        return json(200, this.store.get(ref));
      }
      case 'POST':
        return json(201, this.store.create(body()));
      case 'PUT':
        return json(200, this.store.update(body()));
      case 'PATCH': {
        if (req.headers['Content-Type'] !== 'application/apply-patch+yaml') {
          return statusError(415, 'UnsupportedMediaType', `the fake only supports server-side apply`);
        }
        const manager = url.searchParams.get('fieldManager');
        if (!manager) return statusError(400, 'BadRequest', 'fieldManager is required for apply patch');
        const { live, object } = this.store.apply(body(), manager, dryRun);
        return json(live ? 200 : 201, object);
      }
      case 'DELETE': {
        const options = JSON.parse(req.body ?? '{}') as { preconditions?: { uid?: string } };
        const uid = options.preconditions?.uid;
        if (!this.store.delete(ref, { dryRun, ...(uid !== undefined && { uid }) })) return notFound();
        return json(200, { kind: 'Status', status: 'Success' });
      }
      default:
        return statusError(405, 'MethodNotAllowed', `method ${req.method} not allowed`);
    }
  }

  /** A GET of a new CRD: after `crdEstablishAfterGets` of them it is Established and its kind served. */
  private progressCrd(ref: ObjectRef): void {
    const left = this.crdPending.get(ref.name);
    if (left === undefined) return;
    if (left > 1) {
      this.crdPending.set(ref.name, left - 1);
      return;
    }
    this.crdPending.delete(ref.name);
    const crd = this.store.stored(ref)!;
    const spec = crd.spec as {
      group: string;
      scope: string;
      names: { kind: string; plural: string };
      versions: { name: string; served: boolean }[];
    };
    for (const v of spec.versions) {
      if (!v.served) continue;
      this.addResource({
        group: spec.group,
        version: v.name,
        kind: spec.names.kind,
        plural: spec.names.plural,
        namespaced: spec.scope === 'Namespaced',
      });
    }
    // The controller's status write; the fake leaves the resourceVersion where it was.
    crd.status = { conditions: [{ type: 'Established', status: 'True' }] };
  }
}
