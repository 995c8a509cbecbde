/**
 * The Kubernetes access layer (src/kube) against a real kube-apiserver: Argo CD's install manifest applied
 * through the raw server-side-apply path arrives intact (the fields KubernetesObjectApi would drop are
 * there), a second apply changes nothing, a plan names the changed field, API errors read as sentences,
 * and the Lease keeps two runs apart.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadAll } from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError } from '../../src/errors.ts';
import {
  acquireLease,
  connect,
  type KubeClient,
  type KubeObject,
  LeaseHeldError,
} from '../../src/kube/index.ts';
import { upstreamPathSync } from '../../src/manifests/upstream.ts';
import {
  auditEvents,
  auditMark,
  kubectl,
  serviceAccountKubeconfig,
  target,
  uniqueName,
} from './support/target.ts';

const MANIFEST = upstreamPathSync('argocd/v3.5.1');
const ns = uniqueName('kube-apply');
const tmp = mkdtempSync(join(tmpdir(), 'sd-kube-e2e-'));

let kube: KubeClient;
let manifest: KubeObject[];

/** The manifest's objects; namespaced ones into the test namespace (the manifest sets none itself). */
async function loadManifest(client: KubeClient): Promise<KubeObject[]> {
  const docs = (loadAll(readFileSync(MANIFEST, 'utf8')) as (KubeObject | null)[]).filter(
    (d): d is KubeObject => d !== null && typeof d === 'object',
  );
  const out: KubeObject[] = [];
  for (const doc of docs) {
    const info = await client.discovery.resolve(doc.apiVersion, doc.kind);
    const namespaced = info ? info.namespaced : true; // custom resources of the manifest's own CRDs: none
    out.push(namespaced ? { ...doc, metadata: { ...doc.metadata, namespace: ns } } : doc);
  }
  return out;
}

/** Every field of `expected` is in `actual` with the same value (the server may add defaults). */
function missingFields(expected: unknown, actual: unknown, path = ''): string[] {
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual) || actual.length !== expected.length) return [path];
    return expected.flatMap((e, i) => missingFields(e, actual[i], `${path}[${i}]`));
  }
  if (expected !== null && typeof expected === 'object') {
    if (actual === null || typeof actual !== 'object' || Array.isArray(actual)) return [path];
    return Object.entries(expected).flatMap(([k, v]) =>
      missingFields(v, (actual as Record<string, unknown>)[k], path ? `${path}.${k}` : k),
    );
  }
  return expected === actual ? [] : [path];
}

const live = (obj: KubeObject) =>
  kube.get({
    apiVersion: obj.apiVersion,
    kind: obj.kind,
    name: obj.metadata.name,
    namespace: obj.metadata.namespace,
  });

beforeAll(async () => {
  kube = await connect({ kubeconfig: target().kubeconfig });
  await kubectl(['create', 'namespace', ns]);
  manifest = await loadManifest(kube);
});

afterAll(async () => {
  await kubectl(['delete', 'namespace', ns, '--wait=false']).catch(() => undefined);
  await kube?.close();
});

describe('the ApplySet part-of label on the real API server', () => {
  const PART_OF = 'applyset.kubernetes.io/part-of';
  const cm = (name: string): KubeObject => ({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name, namespace: ns },
    data: { a: 'b' },
  });
  const labels = async (name: string) =>
    (await kube.get({ apiVersion: 'v1', kind: 'ConfigMap', namespace: ns, name }))?.metadata.labels ?? {};

  it('an object another inventory of this program labelled is taken over, never left in none', async () => {
    // Created for one inventory (a run whose release namespace was another), then applied for this one.
    const created = await kube.apply(cm('partof-other-inventory'), { partOf: 'applyset-previous-v1' });
    expect(created).toMatchObject({ action: 'created', member: true });
    const taken = await kube.apply(cm('partof-other-inventory'), { partOf: 'applyset-this-v1' });
    expect(taken).toMatchObject({ action: 'updated', member: true });
    expect((await labels('partof-other-inventory'))[PART_OF]).toBe('applyset-this-v1');
    // And then it stays as it is: a re-run sends nothing.
    const again = await kube.apply(cm('partof-other-inventory'), { partOf: 'applyset-this-v1' });
    expect(again).toMatchObject({ action: 'unchanged', member: true });
  });

  it("a part-of label another tool set stays, and the object is not this inventory's", async () => {
    await kubectl(['apply', '--server-side', '--field-manager=kubectl-applyset', '-f', '-'], {
      input: JSON.stringify({
        ...cm('partof-kubectl'),
        metadata: { ...cm('partof-kubectl').metadata, labels: { [PART_OF]: 'applyset-kubectl-v1' } },
      }),
    });
    const change = await kube.apply(cm('partof-kubectl'), { partOf: 'applyset-this-v1' });
    expect(change.member).toBeUndefined();
    expect((await labels('partof-kubectl'))[PART_OF]).toBe('applyset-kubectl-v1');
  });
});

describe('applying Argo CD v3.5.1 install.yaml', () => {
  let first: Awaited<ReturnType<KubeClient['applyAll']>>;

  it('applies every object, CRDs first', async () => {
    const mark = auditMark();
    const before = { ...kube.stats };
    first = await kube.applyAll(manifest);

    expect(first).toHaveLength(manifest.length);
    expect(first.slice(0, 3).map((c) => c.ref.kind)).toEqual(Array(3).fill('CustomResourceDefinition'));
    // Namespaced objects are new in a fresh namespace; cluster-scoped ones may exist from an earlier run.
    for (const change of first) {
      if (change.ref.namespace)
        expect(change.action, `${change.ref.kind} ${change.ref.name}`).toBe('created');
    }
    if (target().mode === 'local') {
      // Every request the client counted reached the API server, and nothing else went out under its name.
      const ours = auditEvents({ since: mark }).filter(
        (e) => (e as unknown as { userAgent?: string }).userAgent === 'sd-gitops-bootstrap',
      );
      expect(ours).toHaveLength(kube.stats.requests - before.requests);
      // One PATCH per object, except those already exactly as applied (cluster-scoped ones from an earlier
      // run): no PATCH is sent for them.
      const patches = ours.filter((e) => e.verb === 'patch').length;
      expect(patches).toBeGreaterThanOrEqual(first.filter((c) => c.action !== 'unchanged').length);
      expect(patches).toBeLessThanOrEqual(manifest.length);
    }
  });

  it('stores the objects exactly as the manifest has them', async () => {
    for (const obj of manifest) {
      const got = await live(obj);
      expect(got, `${obj.kind} ${obj.metadata.name}`).not.toBeNull();
      expect(missingFields(obj, got), `${obj.kind} ${obj.metadata.name}`).toEqual([]);
    }
  });

  it('keeps the fields KubernetesObjectApi drops (javascript#2962)', async () => {
    const policies = manifest.filter((o) => o.kind === 'NetworkPolicy');
    expect(policies.length).toBeGreaterThan(0);
    for (const policy of policies) {
      const got = (await live(policy)) as KubeObject & { spec: { ingress?: { from?: unknown[] }[] } };
      const want = (policy.spec as { ingress?: { from?: unknown[] }[] }).ingress ?? [];
      want.forEach((rule, i) => {
        if (rule.from) expect(got.spec.ingress?.[i]?.from, policy.metadata.name).toEqual(rule.from);
      });
    }
    const appCrd = manifest.find((o) => o.metadata.name === 'applications.argoproj.io');
    const gotCrd = await live(appCrd as KubeObject);
    expect(JSON.stringify(gotCrd)).toContain('"x-kubernetes-preserve-unknown-fields":true');
    const count = (o: unknown) => JSON.stringify(o).split('x-kubernetes-preserve-unknown-fields').length - 1;
    expect(count(gotCrd?.spec)).toBe(count(appCrd?.spec));
  });

  it('changes nothing on a second apply', async () => {
    const rvBefore = new Map<string, string | undefined>();
    const genBefore = new Map<string, unknown>();
    const key = (o: KubeObject) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
    for (const obj of manifest) {
      const got = await live(obj);
      rvBefore.set(key(obj), got?.metadata.resourceVersion);
      genBefore.set(key(obj), got?.metadata.generation);
    }
    const second = await kube.applyAll(manifest);
    expect(second.filter((c) => c.action !== 'unchanged')).toEqual([]);
    for (const obj of manifest) {
      const got = (await live(obj)) as KubeObject;
      if (obj.kind === 'Deployment' || obj.kind === 'StatefulSet') {
        // Their controllers write status (and so resourceVersion) on their own; the spec must not move.
        expect(got.metadata.generation, key(obj)).toBe(genBefore.get(key(obj)));
      } else {
        expect(got.metadata.resourceVersion, key(obj)).toBe(rvBefore.get(key(obj)));
      }
    }
  });

  it('plans nothing right after an apply', async () => {
    const writesBefore = kube.stats.writes;
    const plan = await kube.applyAll(manifest, { dryRun: true });
    expect(plan.filter((c) => c.action !== 'unchanged')).toEqual([]);
    expect(kube.stats.writes).toBe(writesBefore);
  });

  it('plans the changed field after a change, and persists nothing', async () => {
    const params = manifest.find((o) => o.metadata.name === 'argocd-cmd-params-cm') as KubeObject;
    const before = await live(params);
    const changed = { ...params, data: { ...(params.data as object), 'server.rootpath': '/argocd' } };
    const plan = await kube.apply(changed, { dryRun: true });
    expect(plan).toMatchObject({ action: 'updated', fields: ['data.server.rootpath'] });
    expect((await live(params))?.metadata.resourceVersion).toBe(before?.metadata.resourceVersion);

    const label = {
      ...params,
      metadata: { ...params.metadata, labels: { ...params.metadata.labels, 'seldon.gitops': 'enabled' } },
    };
    expect((await kube.apply(label, { dryRun: true })).fields).toEqual(['metadata.labels.seldon.gitops']);

    const secret = manifest.find((o) => o.metadata.name === 'argocd-secret') as KubeObject;
    const secretPlan = await kube.apply(
      { ...secret, stringData: { 'admin.password': 'not-in-the-plan' } },
      {
        dryRun: true,
      },
    );
    expect(secretPlan).toMatchObject({ action: 'updated', fields: ['data.admin.password'] });
    expect(JSON.stringify(secretPlan.fields)).not.toContain('not-in-the-plan');
  });

  it('applies the change for real and reports the field', async () => {
    const params = manifest.find((o) => o.metadata.name === 'argocd-cmd-params-cm') as KubeObject;
    const changed = { ...params, data: { ...(params.data as object), 'server.insecure': 'true' } };
    expect(await kube.apply(changed)).toMatchObject({ action: 'updated', fields: ['data.server.insecure'] });
    expect((await kube.apply(changed)).action).toBe('unchanged');
    // Back to the manifest: the field we owned and no longer send is removed again.
    expect(await kube.apply(params)).toMatchObject({ action: 'updated', fields: ['data.server.insecure'] });
  });
});

describe('errors and plans that cannot be evaluated', () => {
  it('notes custom resources whose CRD does not exist yet', async () => {
    const plan = await kube.applyAll(
      [
        {
          apiVersion: 'example.sd-gitops.test/v1',
          kind: 'Widget',
          metadata: { name: 'w', namespace: ns },
        },
      ],
      { dryRun: true },
    );
    expect(plan).toEqual([
      {
        ref: { apiVersion: 'example.sd-gitops.test/v1', kind: 'Widget', name: 'w', namespace: ns },
        action: 'created',
        note: 'its CRD does not exist yet; cannot dry-run',
      },
    ]);
  });

  it('plans objects in a namespace that does not exist yet', async () => {
    const future = `${ns}-future`;
    const plan = await kube.applyAll(
      [
        { apiVersion: 'v1', kind: 'Namespace', metadata: { name: future } },
        { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', namespace: future }, data: { a: 'b' } },
      ],
      { dryRun: true },
    );
    expect(plan.map((c) => [c.ref.kind, c.action, c.note])).toEqual([
      ['Namespace', 'created', undefined],
      ['ConfigMap', 'created', `namespace ${future} does not exist yet; cannot dry-run`],
    ]);
    expect(await kube.get({ apiVersion: 'v1', kind: 'Namespace', name: future })).toBeNull();
  });

  it('rejects unknown fields (fieldValidation=Strict) at once, as the schema error it is', async () => {
    const retries = kube.retries;
    const err = (await kube
      .apply({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'strict', namespace: ns }, dataa: {} })
      .catch((e: unknown) => e)) as ApiError;
    expect(err).toBeInstanceOf(ApiError);
    // kube-apiserver answers 500 "failed to create typed patch object" here; it is not worth a retry.
    expect(err.reason).toBe('Invalid');
    expect(err.message).toMatch(
      /the object does not match its schema \(.*strict.*\): \.dataa: field not declared in schema/,
    );
    expect(kube.retries).toBe(retries);
  });

  it('says who may not do what, as a sentence', async () => {
    await kubectl(['create', 'serviceaccount', 'nobody', '-n', ns]);
    const asNobody = await connect({
      kubeconfig: await serviceAccountKubeconfig(ns, 'nobody', join(tmp, 'nobody')),
    });
    try {
      expect(asNobody.defaultNamespace).toBe(ns);
      const err = (await asNobody
        .apply({
          apiVersion: 'v1',
          kind: 'Secret',
          metadata: { name: 'x', namespace: ns },
          stringData: { k: 'v-secret' },
        })
        .catch((e: unknown) => e)) as ApiError;
      expect(err).toBeInstanceOf(ApiError);
      expect(err.status).toBe(403);
      expect(err.reason).toBe('Forbidden');
      expect(err.message).toBe(
        `403 Forbidden: serviceaccount ${ns}/nobody cannot get secrets "x" in namespace ${ns}`,
      );
      expect(await asNobody.can({ verb: 'patch', group: '', resource: 'secrets', namespace: ns })).toBe(
        false,
      );
      expect(await kube.can({ verb: 'patch', group: '', resource: 'secrets', namespace: ns })).toBe(true);
    } finally {
      await asNobody.close();
    }
  });
});

describe('lease', () => {
  it('keeps a second run out until the first releases it', async () => {
    const opts = { namespace: ns, name: 'sd-gitops-bootstrap', ttlSeconds: 60 };
    const a = await acquireLease(kube, { ...opts, holder: 'run-a' });
    await expect(acquireLease(kube, { ...opts, holder: 'run-b' })).rejects.toBeInstanceOf(LeaseHeldError);
    await a.release();
    const b = await acquireLease(kube, { ...opts, holder: 'run-b' });
    const lease = await kube.get({
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      name: opts.name,
      namespace: ns,
    });
    expect((lease?.spec as { holderIdentity?: string } | undefined)?.holderIdentity).toBe('run-b');
    await b.release();
  });
});
