/**
 * An in-memory stand-in for kube-apiserver at the HTTP level, for unit tests of code that talks to
 * Kubernetes (this folder and the steps). It implements what the program relies on — discovery, GET/LIST,
 * POST/PUT with resourceVersion conflicts, server-side apply (including dry-run) with resourceVersion that
 * moves only on change, DELETE (dry-run, uid precondition), SelfSubjectAccessReview, CRDs that become
 * Established and served — and nothing more: no field ownership merging, no defaulting, no validation.
 * Real semantics are tested end to end against a real kube-apiserver (test/e2e); the field ownership the
 * steps rely on is modelled by test/fakes/kube.ts and held to the real server by test/contract/kube.ts.
 */
import { KubeClient } from '../../src/kube/client.ts';
import { stripServerFields } from '../../src/kube/diff.ts';
import { splitApiVersion } from '../../src/kube/discovery.ts';
import type { HttpRequest, HttpResponse, Transport } from '../../src/kube/retry.ts';
import type { KubeObject } from '../../src/kube/types.ts';

export interface FakeResource {
  group: string;
  version: string;
  kind: string;
  plural: string;
  namespaced: boolean;
}

export const BUILTIN_RESOURCES: FakeResource[] = [
  { group: '', version: 'v1', kind: 'Namespace', plural: 'namespaces', namespaced: false },
  { group: '', version: 'v1', kind: 'ConfigMap', plural: 'configmaps', namespaced: true },
  { group: '', version: 'v1', kind: 'Secret', plural: 'secrets', namespaced: true },
  { group: '', version: 'v1', kind: 'Service', plural: 'services', namespaced: true },
  { group: '', version: 'v1', kind: 'ServiceAccount', plural: 'serviceaccounts', namespaced: true },
  { group: 'apps', version: 'v1', kind: 'Deployment', plural: 'deployments', namespaced: true },
  { group: 'apps', version: 'v1', kind: 'StatefulSet', plural: 'statefulsets', namespaced: true },
  { group: 'coordination.k8s.io', version: 'v1', kind: 'Lease', plural: 'leases', namespaced: true },
  {
    group: 'apiextensions.k8s.io',
    version: 'v1',
    kind: 'CustomResourceDefinition',
    plural: 'customresourcedefinitions',
    namespaced: false,
  },
  {
    group: 'rbac.authorization.k8s.io',
    version: 'v1',
    kind: 'ClusterRole',
    plural: 'clusterroles',
    namespaced: false,
  },
];

type Fault = (req: HttpRequest) => HttpResponse | Error | undefined;

interface Parsed {
  resource: FakeResource;
  namespace: string | undefined;
  name: string | undefined;
  key: string;
}

function json(status: number, body: unknown): HttpResponse {
  return { status, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}

function statusError(code: number, reason: string, message: string): HttpResponse {
  return json(code, { kind: 'Status', apiVersion: 'v1', status: 'Failure', message, reason, code });
}

export class FakeApiServer {
  /** Stored objects by canonical path (`/api/v1/namespaces/argocd/configmaps/argocd-cm`). */
  readonly objects = new Map<string, KubeObject>();
  /** Every request received, in order. */
  readonly requests: HttpRequest[] = [];
  /** Consulted first, in order; a fault that returns something answers the request (once). */
  readonly faults: Fault[] = [];
  /** SelfSubjectAccessReview answers; default allow. */
  allow: (attrs: Record<string, unknown>) => boolean = () => true;
  /** GETs of a new CRD before it reports Established (and its kind is served). */
  crdEstablishAfterGets = 1;
  private resources: FakeResource[];
  private rv = 1000;
  private readonly crdPending = new Map<string, number>();

  constructor(resources: FakeResource[] = BUILTIN_RESOURCES) {
    this.resources = [...resources];
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
    return this.handle(req);
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
    const parsed = this.parse(this.pathOf(obj));
    if (!parsed) throw new Error(`fake: no resource for ${obj.apiVersion} ${obj.kind}`);
    const stored = this.stamp(structuredClone(obj), undefined);
    this.objects.set(parsed.key, stored);
    return stored;
  }

  /** Another writer (e.g. a controller updating status) moves the resourceVersion. */
  touch(obj: KubeObject, status: Record<string, unknown>): void {
    const key = this.pathOf(obj);
    const live = this.objects.get(key);
    if (!live) throw new Error(`fake: ${key} not found`);
    this.objects.set(key, {
      ...live,
      status,
      metadata: { ...live.metadata, resourceVersion: String(++this.rv) },
    });
  }

  stored(obj: Pick<KubeObject, 'apiVersion' | 'kind' | 'metadata'>): KubeObject | undefined {
    return this.objects.get(this.pathOf(obj));
  }

  /** Requests that would persist something. */
  writes(): HttpRequest[] {
    return this.requests.filter((r) => r.method !== 'GET' && !new URL(r.url).searchParams.has('dryRun'));
  }

  pathOf(obj: Pick<KubeObject, 'apiVersion' | 'kind' | 'metadata'>): string {
    const { group, version } = splitApiVersion(obj.apiVersion);
    const r = this.resources.find((x) => x.group === group && x.version === version && x.kind === obj.kind);
    if (!r) return `/unknown/${obj.kind}/${obj.metadata.name}`;
    const prefix = group === '' ? `/api/${version}` : `/apis/${group}/${version}`;
    const ns = r.namespaced ? `/namespaces/${obj.metadata.namespace}` : '';
    return `${prefix}${ns}/${r.plural}/${obj.metadata.name}`;
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
    const prefix = group === '' ? `/api/${version}` : `/apis/${group}/${version}`;
    const key = `${prefix}${namespace ? `/namespaces/${namespace}` : ''}/${plural}${name ? `/${name}` : ''}`;
    return { resource, namespace, name, key };
  }

  private stamp(obj: KubeObject, live: KubeObject | undefined): KubeObject {
    obj.metadata = {
      ...obj.metadata,
      uid: (live?.metadata.uid as string | undefined) ?? `uid-${this.rv}`,
      creationTimestamp: live?.metadata.creationTimestamp ?? '2026-01-01T00:00:00Z',
      resourceVersion: String(++this.rv),
      generation: ((live?.metadata.generation as number | undefined) ?? 0) + 1,
    };
    return obj;
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
    const { resource, namespace, name, key } = parsed;
    const notFound = () => statusError(404, 'NotFound', `${resource.plural} "${name}" not found`);
    const live = this.objects.get(key);

    switch (req.method) {
      case 'GET': {
        if (name === undefined) {
          const selector = url.searchParams.get('labelSelector');
          const items = [...this.objects.entries()]
            .filter(([k]) => this.parse(k)?.resource === resource)
            .map(([, o]) => o)
            .filter((o) => namespace === undefined || o.metadata.namespace === namespace)
            .filter((o) =>
              (selector ?? '')
                .split(',')
                .filter(Boolean)
                .every((term) => {
                  const [k, v] = term.split('=');
                  return k !== undefined && o.metadata.labels?.[k] === v;
                }),
            )
            .map(({ apiVersion: _a, kind: _k, ...rest }) => rest);
          return json(200, {
            kind: `${resource.kind}List`,
            metadata: { resourceVersion: String(this.rv) },
            items,
          });
        }
        if (!live) return notFound();
        if (resource.kind === 'CustomResourceDefinition') this.progressCrd(key, live);
        return json(200, this.objects.get(key));
      }
      case 'POST': {
        const body = JSON.parse(req.body ?? '{}') as KubeObject;
        const objKey = `${key}/${body.metadata.name}`;
        if (this.objects.has(objKey)) {
          return statusError(
            409,
            'AlreadyExists',
            `${resource.plural} "${body.metadata.name}" already exists`,
          );
        }
        const stored = this.stamp(body, undefined);
        this.objects.set(objKey, stored);
        return json(201, stored);
      }
      case 'PUT': {
        if (!live) return notFound();
        const body = JSON.parse(req.body ?? '{}') as KubeObject;
        if (body.metadata.resourceVersion !== live.metadata.resourceVersion) {
          return statusError(
            409,
            'Conflict',
            `Operation cannot be fulfilled on ${resource.plural} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
          );
        }
        const stored = this.stamp(body, live);
        this.objects.set(key, stored);
        return json(200, stored);
      }
      case 'PATCH':
        return this.apply(req, url, parsed, live);
      case 'DELETE': {
        if (!live) return notFound();
        const options = JSON.parse(req.body ?? '{}') as { preconditions?: { uid?: string } };
        const uid = options.preconditions?.uid;
        if (uid !== undefined && uid !== live.metadata.uid) {
          return statusError(
            409,
            'Conflict',
            `Precondition failed: UID in precondition: ${uid}, UID in object meta: ${live.metadata.uid}`,
          );
        }
        if (url.searchParams.get('dryRun') === 'All') return json(200, { kind: 'Status', status: 'Success' });
        this.objects.delete(key);
        return json(200, { kind: 'Status', status: 'Success' });
      }
      default:
        return statusError(405, 'MethodNotAllowed', `method ${req.method} not allowed`);
    }
  }

  private apply(req: HttpRequest, url: URL, parsed: Parsed, live: KubeObject | undefined): HttpResponse {
    const { resource, namespace, key } = parsed;
    if (req.headers['Content-Type'] !== 'application/apply-patch+yaml') {
      return statusError(415, 'UnsupportedMediaType', `the fake only supports server-side apply`);
    }
    const manager = url.searchParams.get('fieldManager');
    if (!manager) return statusError(400, 'BadRequest', 'fieldManager is required for apply patch');
    if (namespace && !this.objects.has(`/api/v1/namespaces/${namespace}`)) {
      return statusError(404, 'NotFound', `namespaces "${namespace}" not found`);
    }
    const body = JSON.parse(req.body ?? '{}') as KubeObject;
    const managedFields = [
      {
        manager,
        operation: 'Apply',
        apiVersion: body.apiVersion,
        fieldsType: 'FieldsV1',
        fieldsV1: Object.fromEntries(Object.keys(body).map((k) => [`f:${k}`, {}])),
      },
    ];
    const desired: KubeObject = {
      ...body,
      metadata: { ...body.metadata, managedFields },
      ...(live?.status !== undefined && { status: live.status }),
    };
    const same =
      live !== undefined &&
      JSON.stringify(stripServerFields(live)) === JSON.stringify(stripServerFields(desired)) &&
      JSON.stringify(live.metadata.managedFields) === JSON.stringify(managedFields);
    const dryRun = url.searchParams.get('dryRun') === 'All';
    let result: KubeObject;
    if (same) result = live;
    else if (dryRun) {
      result = structuredClone(desired);
      result.metadata = {
        ...result.metadata,
        uid: live?.metadata.uid ?? 'uid-dry',
        resourceVersion: live?.metadata.resourceVersion ?? '',
      };
    } else {
      result = this.stamp(desired, live);
      if (resource.kind === 'CustomResourceDefinition' && !live) {
        result.status = { conditions: [{ type: 'Established', status: 'False' }] };
        this.crdPending.set(key, this.crdEstablishAfterGets);
      }
      this.objects.set(key, result);
    }
    return json(live ? 200 : 201, result);
  }

  private progressCrd(key: string, crd: KubeObject): void {
    const left = this.crdPending.get(key);
    if (left === undefined) return;
    if (left > 1) {
      this.crdPending.set(key, left - 1);
      return;
    }
    this.crdPending.delete(key);
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
    this.objects.set(key, { ...crd, status: { conditions: [{ type: 'Established', status: 'True' }] } });
  }
}
