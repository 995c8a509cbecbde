import { describe, expect, it } from 'vitest';
import { FakeApiServer } from '../../test/fakes/kube-http.ts';
import { ApiError } from '../errors.ts';
import { NOTE_NO_CRD } from './apply.ts';
import { apiErrorFromResponse, humanizeStatusMessage, KubeClient } from './client.ts';
import type { KubeObject } from './types.ts';

const ns = (name: string): KubeObject => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
const cm = (
  data: Record<string, string>,
  name = 'argocd-cmd-params-cm',
  namespace = 'argocd',
): KubeObject => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace },
  data,
});
const crd: KubeObject = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: 'applications.argoproj.io' },
  spec: {
    group: 'argoproj.io',
    scope: 'Namespaced',
    names: { kind: 'Application', plural: 'applications' },
    versions: [{ name: 'v1alpha1', served: true, storage: true }],
  },
};
const app: KubeObject = {
  apiVersion: 'argoproj.io/v1alpha1',
  kind: 'Application',
  metadata: { name: 'seldon-gitops-staging', namespace: 'argocd' },
  spec: { project: 'seldon' },
};

describe('request', () => {
  it('sends JSON with query parameters and parses the answer', async () => {
    const fake = new FakeApiServer();
    const kube = fake.client();
    fake.seed(ns('argocd'));
    const got = await kube.request<KubeObject>('GET', '/api/v1/namespaces/argocd', {
      query: { pretty: undefined, resourceVersion: '0' },
    });
    expect(got.metadata.name).toBe('argocd');
    const sent = fake.requests.at(-1);
    expect(sent?.url).toBe('https://fake.k8s.test/api/v1/namespaces/argocd?resourceVersion=0');
    expect(sent?.headers.Accept).toBe('application/json');
  });

  it('turns a Status into an ApiError with a sentence, and never quotes the request body', async () => {
    const fake = new FakeApiServer();
    const kube = fake.client();
    fake.faults.push(() => ({
      status: 403,
      headers: {},
      body: JSON.stringify({
        kind: 'Status',
        status: 'Failure',
        reason: 'Forbidden',
        code: 403,
        message:
          'secrets "git-creds" is forbidden: User "system:serviceaccount:seldon-system:bootstrap" cannot patch resource "secrets" in API group "" in the namespace "seldon"',
      }),
    }));
    const err = (await kube
      .request('PATCH', '/api/v1/namespaces/seldon/secrets/git-creds', {
        body: { data: { id_rsa: 'c2VjcmV0LWtleQ==' } },
      })
      .catch((e: unknown) => e)) as ApiError;
    expect(err).toBeInstanceOf(ApiError);
    expect(err.status).toBe(403);
    expect(err.reason).toBe('Forbidden');
    expect(err.message).toBe(
      '403 Forbidden: serviceaccount seldon-system/bootstrap cannot patch secrets "git-creds" in namespace seldon',
    );
    expect(JSON.stringify({ ...err, message: err.message })).not.toContain('c2VjcmV0');
  });

  it('counts requests and real writes, not dry-runs or reviews', async () => {
    const fake = new FakeApiServer();
    const kube = fake.client();
    await kube.apply(ns('argocd'));
    const afterApply = { ...kube.stats };
    await kube.apply(cm({ a: '1' }), { dryRun: true });
    await kube.can({ verb: 'get', group: '', resource: 'secrets', namespace: 'argocd' });
    expect(afterApply.writes).toBe(1);
    expect(kube.stats.writes).toBe(1);
    expect(kube.stats.requests).toBe(fake.requests.length);
  });

  it('retries a 503 and counts both attempts', async () => {
    const fake = new FakeApiServer();
    const kube = fake.client();
    fake.seed(ns('argocd'));
    fake.faults.push(() => ({ status: 503, headers: {}, body: '' }));
    await expect(kube.get({ apiVersion: 'v1', kind: 'Namespace', name: 'argocd' })).resolves.not.toBeNull();
    expect(kube.retries).toBe(1);
  });

  it('reports an unreachable server with the network error code', async () => {
    const fake = new FakeApiServer();
    const kube = fake.client();
    const refused = () =>
      new TypeError('fetch failed', { cause: Object.assign(new Error('x'), { code: 'ECONNREFUSED' }) });
    for (let i = 0; i < 20; i++) fake.faults.push(refused);
    await expect(kube.request('GET', '/version')).rejects.toThrow(
      'cannot reach the Kubernetes API at https://fake.k8s.test: connection refused (ECONNREFUSED)',
    );
  });
});

describe('useSignal: the run binds the requests in flight', () => {
  it('a stalled request (no answer, retries left) ends when the signal aborts, and no retry follows', async () => {
    let attempts = 0;
    const kube = new KubeClient({
      // A stall: the connection stays open, nothing comes back; only an abort ends it.
      transport: (req) => {
        attempts++;
        return new Promise((_, reject) =>
          req.signal?.addEventListener('abort', () => reject(req.signal!.reason)),
        );
      },
      server: 'https://fake.k8s.test',
      defaultNamespace: 'default',
      retry: { baseDelayMs: 1, deadlineMs: 600_000 },
    });
    const controller = new AbortController();
    kube.useSignal(controller.signal);
    const pending = kube.request('GET', '/api/v1/namespaces/x').catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 20));
    controller.abort(new DOMException('deadline', 'TimeoutError'));
    const err = await pending;
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).path).toBe('/api/v1/namespaces/x');
    expect(attempts).toBe(1);
  });
});

describe('errors', () => {
  it.each([
    {
      name: 'cluster-scoped denial',
      msg: 'customresourcedefinitions.apiextensions.k8s.io is forbidden: User "alice" cannot list resource "customresourcedefinitions" in API group "apiextensions.k8s.io" at the cluster scope',
      want: 'user alice cannot list customresourcedefinitions (API group apiextensions.k8s.io) at cluster scope',
    },
    {
      name: 'other messages unchanged',
      msg: 'Operation cannot be fulfilled on leases "x": the object has been modified',
      want: 'Operation cannot be fulfilled on leases "x": the object has been modified',
    },
  ])('$name', ({ msg, want }) => {
    expect(humanizeStatusMessage(msg)).toBe(want);
  });

  it('names the path when the server gives only a generic message', () => {
    const err = apiErrorFromResponse('GET', '/apis/argoproj.io/v1alpha1', {
      status: 404,
      headers: {},
      body: JSON.stringify({
        kind: 'Status',
        reason: 'NotFound',
        message: 'the server could not find the requested resource',
      }),
    });
    expect(err.message).toBe(
      '404 Not Found: the server could not find the requested resource (GET /apis/argoproj.io/v1alpha1)',
    );
  });

  it('quotes a little of a non-Status answer', () => {
    const err = apiErrorFromResponse('GET', '/api/v1', {
      status: 502,
      headers: {},
      body: '<html>bad gateway</html>',
    });
    expect(err.message).toBe('502 Bad Gateway: <html>bad gateway</html> (GET /api/v1)');
    expect(err.reason).toBeUndefined();
  });
});

describe('get / list / delete / can / hasKind', () => {
  it('get returns null for a missing object or an unserved kind', async () => {
    const kube = new FakeApiServer().client();
    expect(await kube.get({ apiVersion: 'v1', kind: 'ConfigMap', name: 'x', namespace: 'a' })).toBeNull();
    expect(await kube.get({ apiVersion: 'argoproj.io/v1alpha1', kind: 'Application', name: 'x' })).toBeNull();
  });

  it('list puts apiVersion and kind back on items and filters by label', async () => {
    const fake = new FakeApiServer();
    fake.seed({ ...cm({}, 'a'), metadata: { name: 'a', namespace: 'argocd', labels: { x: '1' } } });
    fake.seed(cm({}, 'b'));
    const kube = fake.client();
    const items = await kube.list('v1', 'ConfigMap', { namespace: 'argocd', labelSelector: 'x=1' });
    expect(items.map((i) => [i.apiVersion, i.kind, i.metadata.name])).toEqual([['v1', 'ConfigMap', 'a']]);
    expect(await kube.list('argoproj.io/v1alpha1', 'Application')).toEqual([]);
  });

  it('delete tolerates 404', async () => {
    const fake = new FakeApiServer();
    const kube = fake.client();
    fake.seed(cm({}));
    const ref = { apiVersion: 'v1', kind: 'ConfigMap', name: 'argocd-cmd-params-cm', namespace: 'argocd' };
    await kube.delete(ref);
    await kube.delete(ref);
    expect(fake.objects.size).toBe(0);
  });

  it('can asks a SelfSubjectAccessReview', async () => {
    const fake = new FakeApiServer();
    fake.allow = (a) => a.verb !== 'delete';
    const kube = fake.client();
    expect(await kube.can({ verb: 'get', group: '', resource: 'secrets' })).toBe(true);
    expect(await kube.can({ verb: 'delete', group: '', resource: 'secrets' })).toBe(false);
  });

  it('discovery is cached, and looked up again on a miss', async () => {
    const fake = new FakeApiServer();
    const kube = fake.client();
    expect(await kube.hasKind('v1', 'ConfigMap')).toBe(true);
    expect(await kube.hasKind('v1', 'Secret')).toBe(true);
    expect(fake.requests.filter((r) => r.url.endsWith('/api/v1'))).toHaveLength(1);
    expect(await kube.hasKind('argoproj.io/v1alpha1', 'Application')).toBe(false);
    fake.addResource({
      group: 'argoproj.io',
      version: 'v1alpha1',
      kind: 'Application',
      plural: 'applications',
      namespaced: true,
    });
    expect(await kube.hasKind('argoproj.io/v1alpha1', 'Application')).toBe(true);
  });
});

describe('apply', () => {
  it('sends server-side apply with the field manager, force and strict validation', async () => {
    const fake = new FakeApiServer();
    const kube = fake.client();
    await kube.apply(ns('argocd'));
    const patch = fake.requests.find((r) => r.method === 'PATCH');
    const url = new URL(patch?.url ?? '');
    expect(url.pathname).toBe('/api/v1/namespaces/argocd');
    expect(Object.fromEntries(url.searchParams)).toEqual({
      fieldManager: 'sd-gitops-bootstrap',
      force: 'true',
      fieldValidation: 'Strict',
    });
    expect(patch?.headers['Content-Type']).toBe('application/apply-patch+yaml');
    expect(JSON.parse(patch?.body ?? '')).toEqual(ns('argocd'));
  });

  it('created → unchanged → updated with the changed fields', async () => {
    const fake = new FakeApiServer();
    const kube = fake.client();
    await kube.apply(ns('argocd'));
    const first = await kube.apply(cm({ 'server.insecure': 'true' }));
    expect(first.action).toBe('created');
    const second = await kube.apply(cm({ 'server.insecure': 'true' }));
    expect(second).toMatchObject({ action: 'unchanged', fields: [] });
    expect(second.object?.metadata.resourceVersion).toBe(first.object?.metadata.resourceVersion);
    const third = await kube.apply(cm({ 'server.insecure': 'true', 'server.rootpath': '/argocd' }));
    expect(third).toMatchObject({ action: 'updated', fields: ['data.server.rootpath'] });
  });

  it('is unchanged when only another writer moved the resourceVersion', async () => {
    const fake = new FakeApiServer();
    const kube = fake.client();
    await kube.apply(ns('argocd'));
    const obj = cm({ a: '1' });
    await kube.apply(obj);
    // A controller writes status between our GET and our PATCH.
    fake.faults.push((req) => {
      if (req.method === 'PATCH') fake.touch(obj, { observed: true });
      return undefined;
    });
    const again = await kube.apply(obj);
    expect(again.action).toBe('unchanged');
  });

  it('refuses a namespaced object without a namespace, and drops one from a cluster-scoped object', async () => {
    const fake = new FakeApiServer();
    const kube = fake.client('default');
    const noNs = cm({});
    delete noNs.metadata.namespace;
    await expect(kube.apply(noNs)).rejects.toThrow(
      'ConfigMap argocd-cmd-params-cm is namespaced but has no metadata.namespace',
    );
    const r = await kube.apply({ ...ns('x'), metadata: { name: 'x', namespace: 'argocd' } });
    expect(r.ref.namespace).toBeUndefined();
    expect(JSON.parse(fake.requests.at(-1)?.body ?? '').metadata).toEqual({ name: 'x' });
  });

  it('fails a real apply of an unserved kind with a sentence', async () => {
    const kube = new FakeApiServer().client();
    await expect(kube.apply(app)).rejects.toThrow(
      'the cluster does not serve kind Application in argoproj.io/v1alpha1 (is its CustomResourceDefinition installed?)',
    );
  });

  it('passes a different field manager through', async () => {
    const fake = new FakeApiServer();
    await fake.client().apply(ns('a'), { fieldManager: 'sd-gitops-bootstrap/config' });
    expect(new URL(fake.requests.at(-1)?.url ?? '').searchParams.get('fieldManager')).toBe(
      'sd-gitops-bootstrap/config',
    );
  });
});

describe('dry-run', () => {
  it('persists nothing and reports the fields that would change', async () => {
    const fake = new FakeApiServer();
    const kube = fake.client();
    await kube.apply(ns('argocd'));
    await kube.apply(cm({ 'server.insecure': 'true' }));
    const before = fake.stored(cm({}));
    const writes = fake.writes().length;

    const plan = await kube.apply(cm({ 'server.insecure': 'false' }), { dryRun: true });
    expect(plan).toMatchObject({ action: 'updated', fields: ['data.server.insecure'] });
    expect(fake.stored(cm({}))).toEqual(before);
    expect(fake.writes()).toHaveLength(writes);

    const same = await kube.apply(cm({ 'server.insecure': 'true' }), { dryRun: true });
    expect(same).toMatchObject({ action: 'unchanged', fields: [] });
  });

  it('lists only key names of a Secret', async () => {
    const fake = new FakeApiServer();
    const kube = fake.client();
    await kube.apply(ns('argocd'));
    const secret = (data: Record<string, string>): KubeObject => ({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'argocd-secret', namespace: 'argocd' },
      data,
    });
    await kube.apply(secret({ 'admin.password': 'b2xk' }));
    const plan = await kube.apply(secret({ 'admin.password': 'bmV3', 'admin.passwordMtime': 'MjAyNg==' }), {
      dryRun: true,
    });
    expect(plan.fields).toEqual(['data.admin.password', 'data.admin.passwordMtime']);
  });

  it('plans a namespace and its objects before the namespace exists', async () => {
    const fake = new FakeApiServer();
    const kube = fake.client();
    const changes = await kube.applyAll([cm({ a: '1' }), ns('argocd')], { dryRun: true });
    expect(changes).toEqual([
      {
        ref: { apiVersion: 'v1', kind: 'Namespace', name: 'argocd', namespace: undefined },
        action: 'created',
      },
      {
        ref: { apiVersion: 'v1', kind: 'ConfigMap', name: 'argocd-cmd-params-cm', namespace: 'argocd' },
        action: 'created',
        note: 'namespace argocd does not exist yet; cannot dry-run',
      },
    ]);
    expect(fake.objects.size).toBe(0);
  });

  it('notes custom resources whose CRD does not exist yet', async () => {
    const fake = new FakeApiServer();
    const kube = fake.client();
    fake.seed(ns('argocd'));
    const changes = await kube.applyAll([app, crd], { dryRun: true });
    expect(changes.map((c) => [c.ref.kind, c.action, c.note])).toEqual([
      ['CustomResourceDefinition', 'created', undefined],
      ['Application', 'created', NOTE_NO_CRD],
    ]);
    expect(fake.writes()).toHaveLength(0);
  });
});

describe('applyAll', () => {
  it('applies CRDs and Namespaces first, waits until the CRD is served, then the rest in order', async () => {
    const fake = new FakeApiServer();
    fake.crdEstablishAfterGets = 3;
    const kube = fake.client();
    const changes = await kube.applyAll([cm({ a: '1' }), app, crd, ns('argocd')]);
    expect(changes.map((c) => `${c.ref.kind}:${c.action}`)).toEqual([
      'CustomResourceDefinition:created',
      'Namespace:created',
      'ConfigMap:created',
      'Application:created',
    ]);
    const crdGets = fake.requests.filter(
      (r) => r.method === 'GET' && r.url.endsWith('/customresourcedefinitions/applications.argoproj.io'),
    );
    expect(crdGets.length).toBeGreaterThanOrEqual(3);

    const again = await kube.applyAll([cm({ a: '1' }), app, crd, ns('argocd')]);
    expect(again.every((c) => c.action === 'unchanged')).toBe(true);
  });

  it('stops at the first failure', async () => {
    const fake = new FakeApiServer();
    const kube = fake.client();
    fake.faults.push((req) =>
      req.method === 'PATCH' && req.url.includes('/configmaps/')
        ? {
            status: 422,
            headers: {},
            body: JSON.stringify({
              kind: 'Status',
              reason: 'Invalid',
              code: 422,
              message: 'ConfigMap "argocd-cmd-params-cm" is invalid: .data.x: field not declared in schema',
            }),
          }
        : undefined,
    );
    // A few applies are in flight at once (8): those started with the failing one finish, no other starts.
    const others = Array.from({ length: 12 }, (_, i) => cm({ b: '1' }, `other-${i}`));
    await expect(kube.applyAll([ns('argocd'), cm({ a: '1' }), ...others])).rejects.toThrow(
      '422 Unprocessable Entity: ConfigMap "argocd-cmd-params-cm" is invalid',
    );
    expect(fake.stored(cm({}, 'other-11'))).toBeUndefined();
    expect(others.filter((o) => fake.stored(o)).length).toBeLessThan(8);
  });
});

describe('schema errors', () => {
  it('are not retried and read as validation errors', async () => {
    const fake = new FakeApiServer();
    const kube = fake.client();
    fake.seed(ns('argocd'));
    fake.faults.push((req) =>
      req.method === 'PATCH'
        ? {
            status: 500,
            headers: {},
            body: JSON.stringify({
              kind: 'Status',
              status: 'Failure',
              code: 500,
              message:
                'failed to create typed patch object (argocd/argocd-cm; /v1, Kind=ConfigMap): .dataa: field not declared in schema',
            }),
          }
        : undefined,
    );
    const err = (await kube.apply(cm({}, 'argocd-cm')).catch((e: unknown) => e)) as ApiError;
    expect(err.message).toBe(
      '500 Internal Server Error: the object does not match its schema (argocd/argocd-cm; /v1, Kind=ConfigMap): .dataa: field not declared in schema',
    );
    expect(err.reason).toBe('Invalid');
    expect(kube.retries).toBe(0);
  });
});
