/**
 * The contract of a `Kube` (src/kube/types.ts), as the fake cluster's store (test/fakes/store.ts) models it
 * and as the real kube-apiserver behaves: the same cases run against the store through FakeKube
 * (test/unit/kube-contract.test.ts), through the real client over the HTTP fake
 * (test/unit/kube-contract-http.test.ts), and against the real server (test/e2e/kube-contract.test.ts), so
 * the fake cannot drift from the server it stands in for.
 *
 * Covered: resourceVersion and uid on create; server-side apply that changes nothing, changes a field, or
 * leaves out a field it applied before; two field managers (shared fields, forced takeover, a field the
 * other manager owns kept); dry-run of apply and delete; delete with a uid precondition; label selectors;
 * the ApplySet member label; kinds that are not served; a namespace that does not exist; the Lease's
 * create and optimistic-concurrency update through `request`; which requests count as writes.
 *
 * Not covered, because the fake does not claim it: controllers (rollouts, Established CRDs, synced
 * Applications), defaulting and validation, keyed lists (the fake owns every list whole, as atomic lists
 * are), access reviews.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError } from '../../src/errors.ts';
import type { Kube, KubeObject, ObjectRef } from '../../src/kube/types.ts';

export interface ContractTarget {
  kube: Kube;
  /** Called after the last case (the namespace the suite made is deleted before). */
  close?: () => Promise<void>;
}

type ConfigMap = KubeObject & { data?: Record<string, string> };

const PART_OF = 'applyset.kubernetes.io/part-of';

/** Register the contract's cases, run against the `Kube` that `connect` returns. */
export function kubeContract(name: string, connect: () => Promise<ContractTarget>): void {
  describe(`Kube contract: ${name}`, () => {
    const ns = `contract-${Date.now().toString(36)}${Math.floor(Math.random() * 1e4).toString(36)}`;
    let target: ContractTarget;
    let kube: Kube;
    let n = 0;
    /** A fresh object name per case, so cases do not depend on one another. */
    const fresh = (prefix: string) => `${prefix}-${++n}`;
    const cm = (name: string, data?: Record<string, string>, labels?: Record<string, string>): ConfigMap => ({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name, namespace: ns, ...(labels ? { labels } : {}) },
      ...(data ? { data } : {}),
    });
    const ref = (name: string, kind = 'ConfigMap', apiVersion = 'v1'): ObjectRef => ({
      apiVersion,
      kind,
      name,
      namespace: ns,
    });
    const read = async (name: string) => (await kube.get<ConfigMap>(ref(name))) as ConfigMap;
    const managers = (o: KubeObject) =>
      ((o.metadata.managedFields ?? []) as { manager: string; operation: string }[])
        .filter((e) => e.operation === 'Apply')
        .map((e) => e.manager)
        .sort();

    beforeAll(async () => {
      target = await connect();
      kube = target.kube;
      await kube.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    });

    afterAll(async () => {
      await kube?.delete({ apiVersion: 'v1', kind: 'Namespace', name: ns }).catch(() => undefined);
      await target?.close?.();
    });

    describe('create', () => {
      it('stores the object with a resourceVersion and a uid', async () => {
        const name = fresh('create');
        const change = await kube.apply(cm(name, { a: '1' }));
        expect(change.action).toBe('created');
        expect(change.ref).toMatchObject({ kind: 'ConfigMap', name, namespace: ns });
        const live = await read(name);
        expect(live.data).toEqual({ a: '1' });
        expect(live.metadata.resourceVersion).toMatch(/^\d+$/);
        expect(live.metadata.uid).toEqual(expect.any(String));
        expect(change.object?.metadata.resourceVersion).toBe(live.metadata.resourceVersion);
      });

      it('records the field manager that applied it', async () => {
        const name = fresh('manager');
        await kube.apply(cm(name, { a: '1' }));
        expect(managers(await read(name))).toEqual(['sd-gitops-bootstrap']);
        await kube.apply(cm(name, { b: '2' }), { fieldManager: 'contract-other' });
        expect(managers(await read(name))).toEqual(['contract-other', 'sd-gitops-bootstrap']);
      });

      it('refuses a namespace that does not exist', async () => {
        const obj = cm(fresh('nowhere'));
        obj.metadata.namespace = `${ns}-missing`;
        await expect(kube.apply(obj)).rejects.toMatchObject({ status: 404 });
      });

      it('counts a create as a write', async () => {
        const before = kube.stats.writes;
        await kube.apply(cm(fresh('count'), { a: '1' }));
        expect(kube.stats.writes).toBe(before + 1);
      });
    });

    describe('server-side apply', () => {
      it('leaves the resourceVersion alone when the same body is applied again', async () => {
        const name = fresh('same');
        await kube.apply(cm(name, { a: '1' }, { app: 'x' }));
        const rv = (await read(name)).metadata.resourceVersion;
        const writes = kube.stats.writes;
        const again = await kube.apply(cm(name, { a: '1' }, { app: 'x' }));
        expect(again.action).toBe('unchanged');
        expect((await read(name)).metadata.resourceVersion).toBe(rv);
        expect(kube.stats.writes).toBe(writes);
      });

      it('moves the resourceVersion when a field changes, and names the field', async () => {
        const name = fresh('changed');
        await kube.apply(cm(name, { a: '1', b: '1' }));
        const rv = (await read(name)).metadata.resourceVersion;
        const change = await kube.apply(cm(name, { a: '1', b: '2' }));
        expect(change.action).toBe('updated');
        expect(change.fields).toEqual(['data.b']);
        const live = await read(name);
        expect(live.data).toEqual({ a: '1', b: '2' });
        expect(live.metadata.resourceVersion).not.toBe(rv);
        expect(Number(live.metadata.resourceVersion)).toBeGreaterThan(Number(rv));
      });

      it('removes a field it applied before and no longer sends', async () => {
        const name = fresh('dropped');
        await kube.apply(cm(name, { a: '1', b: '1' }, { app: 'x', gone: 'soon' }));
        const change = await kube.apply(cm(name, { a: '1' }, { app: 'x' }));
        expect(change.action).toBe('updated');
        const live = await read(name);
        expect(live.data).toEqual({ a: '1' });
        expect(live.metadata.labels).toEqual({ app: 'x' });
      });

      it('replaces a list whole', async () => {
        const name = fresh('list');
        const role = (rules: unknown[]): KubeObject => ({
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'Role',
          metadata: { name, namespace: ns },
          rules,
        });
        const get = { apiGroups: [''], resources: ['configmaps'], verbs: ['get'] };
        const list = { apiGroups: [''], resources: ['secrets'], verbs: ['list'] };
        await kube.apply(role([get, list]));
        await kube.apply(role([list]));
        const live = await kube.get(ref(name, 'Role', 'rbac.authorization.k8s.io/v1'));
        expect(live?.rules).toEqual([list]);
      });

      it('labels a new object as an ApplySet member, never one that existed without the label', async () => {
        const created = fresh('member');
        const change = await kube.apply(cm(created, { a: '1' }), { partOf: 'applyset-contract' });
        expect(change.member).toBe(true);
        expect((await read(created)).metadata.labels?.[PART_OF]).toBe('applyset-contract');

        const foreign = fresh('foreign');
        await kube.apply(cm(foreign, { a: '1' }));
        const again = await kube.apply(cm(foreign, { a: '1' }), { partOf: 'applyset-contract' });
        expect(again.member).toBeUndefined();
        expect((await read(foreign)).metadata.labels?.[PART_OF]).toBeUndefined();

        const keepOnly = fresh('keep-only');
        await kube.apply(cm(keepOnly, { a: '1' }), { partOf: 'applyset-contract', partOfKeepOnly: true });
        expect((await read(keepOnly)).metadata.labels?.[PART_OF]).toBeUndefined();
      });
    });

    describe('two field managers', () => {
      it('keeps both managers’ fields', async () => {
        const name = fresh('both');
        await kube.apply(cm(name, { ours: '1' }));
        await kube.apply(cm(name, { theirs: '1' }), { fieldManager: 'contract-other' });
        expect((await read(name)).data).toEqual({ ours: '1', theirs: '1' });
        // Our apply, as before, changes nothing: their field is not ours to remove.
        const rv = (await read(name)).metadata.resourceVersion;
        expect((await kube.apply(cm(name, { ours: '1' }))).action).toBe('unchanged');
        expect((await read(name)).metadata.resourceVersion).toBe(rv);
      });

      it('stores a new owner of a value already there: the resourceVersion moves, no value does', async () => {
        const name = fresh('co-owner');
        await kube.apply(cm(name, { a: '1' }));
        const before = await read(name);
        const change = await kube.apply(cm(name, { a: '1' }), { fieldManager: 'contract-other' });
        expect(change).toMatchObject({ action: 'updated', fields: ['metadata.managedFields'] });
        const after = await read(name);
        expect(after.data).toEqual({ a: '1' });
        expect(after.metadata.resourceVersion).not.toBe(before.metadata.resourceVersion);
        expect(managers(after)).toEqual(['contract-other', 'sd-gitops-bootstrap']);
        const again = await kube.apply(cm(name, { a: '1' }), { fieldManager: 'contract-other' });
        expect(again.action).toBe('unchanged');
        expect((await read(name)).metadata.resourceVersion).toBe(after.metadata.resourceVersion);
      });

      it('keeps a field the other manager owns when our apply leaves it out', async () => {
        const name = fresh('kept');
        await kube.apply(cm(name, { ours: '1' }));
        await kube.apply(cm(name, { theirs: '1' }), { fieldManager: 'contract-other' });
        await kube.apply(cm(name, { ours: '2' }));
        expect((await read(name)).data).toEqual({ ours: '2', theirs: '1' });
        await kube.apply(cm(name));
        expect((await read(name)).data).toEqual({ theirs: '1' });
      });

      it('keeps a field both applied with the same value until the last owner leaves it out', async () => {
        const name = fresh('common');
        await kube.apply(cm(name, { common: '1', ours: '1' }));
        await kube.apply(cm(name, { common: '1' }), { fieldManager: 'contract-other' });
        await kube.apply(cm(name, { ours: '1' }));
        expect((await read(name)).data).toEqual({ common: '1', ours: '1' });
        await kube.apply(cm(name, { other: '1' }), { fieldManager: 'contract-other' });
        expect((await read(name)).data).toEqual({ ours: '1', other: '1' });
      });

      it('takes a field over by force: the manager that lost it no longer removes it', async () => {
        const name = fresh('forced');
        await kube.apply(cm(name, { contested: 'ours', ours: '1' }));
        // Apply is always forced (the Kube contract): a conflicting value wins and moves the ownership.
        await kube.apply(cm(name, { contested: 'theirs' }), { fieldManager: 'contract-other' });
        expect((await read(name)).data).toEqual({ contested: 'theirs', ours: '1' });
        await kube.apply(cm(name, { ours: '1' }));
        expect((await read(name)).data).toEqual({ contested: 'theirs', ours: '1' });
        // And we take it back the same way.
        await kube.apply(cm(name, { contested: 'ours', ours: '1' }));
        await kube.apply(cm(name, { other: '1' }), { fieldManager: 'contract-other' });
        expect((await read(name)).data).toEqual({ contested: 'ours', ours: '1', other: '1' });
      });
    });

    describe('dry-run', () => {
      it('reports a create and stores nothing', async () => {
        const name = fresh('dry-create');
        const writes = kube.stats.writes;
        const change = await kube.apply(cm(name, { a: '1' }), { dryRun: true });
        expect(change.action).toBe('created');
        expect(await kube.get(ref(name))).toBeNull();
        expect(kube.stats.writes).toBe(writes);
      });

      it('reports an update with its field and changes nothing', async () => {
        const name = fresh('dry-update');
        await kube.apply(cm(name, { a: '1' }));
        const before = await read(name);
        const writes = kube.stats.writes;
        const change = await kube.apply(cm(name, { a: '2' }), { dryRun: true });
        expect(change.action).toBe('updated');
        expect(change.fields).toEqual(['data.a']);
        expect(change.object).toMatchObject({ data: { a: '2' } });
        const after = await read(name);
        expect(after.data).toEqual({ a: '1' });
        expect(after.metadata.resourceVersion).toBe(before.metadata.resourceVersion);
        expect(kube.stats.writes).toBe(writes);
        expect((await kube.apply(cm(name, { a: '1' }), { dryRun: true })).action).toBe('unchanged');
      });

      it('leaves the object in place on a dry-run delete', async () => {
        const name = fresh('dry-delete');
        await kube.apply(cm(name, { a: '1' }));
        await kube.delete(ref(name), { dryRun: true });
        expect((await read(name)).data).toEqual({ a: '1' });
      });
    });

    describe('delete', () => {
      it('deletes: a get then finds nothing, and a second delete is fine', async () => {
        const name = fresh('delete');
        await kube.apply(cm(name, { a: '1' }));
        const writes = kube.stats.writes;
        await kube.delete(ref(name));
        expect(await kube.get(ref(name))).toBeNull();
        expect(kube.stats.writes).toBe(writes + 1);
        await expect(kube.delete(ref(name))).resolves.toBeUndefined();
      });

      it('deletes only the incarnation with the given uid', async () => {
        const name = fresh('uid');
        await kube.apply(cm(name, { a: '1' }));
        const { uid } = (await read(name)).metadata;
        await expect(kube.delete(ref(name), { uid: 'not-its-uid' })).rejects.toMatchObject({ status: 409 });
        expect(await kube.get(ref(name))).not.toBeNull();
        await kube.delete(ref(name), { uid: uid as string });
        expect(await kube.get(ref(name))).toBeNull();
      });

      it('gives a re-created object a new uid', async () => {
        const name = fresh('recreate');
        await kube.apply(cm(name, { a: '1' }));
        const first = (await read(name)).metadata.uid;
        await kube.delete(ref(name));
        expect((await kube.apply(cm(name, { a: '1' }))).action).toBe('created');
        expect((await read(name)).metadata.uid).not.toBe(first);
      });
    });

    describe('list', () => {
      it('selects by label, with every term of a selector', async () => {
        const tag = fresh('sel');
        const names = [fresh('l'), fresh('l'), fresh('l')];
        await kube.apply(cm(names[0]!, {}, { suite: tag, tier: 'a' }));
        await kube.apply(cm(names[1]!, {}, { suite: tag, tier: 'b' }));
        await kube.apply(cm(names[2]!, {}, { other: tag }));
        const listed = (selector: string) =>
          kube
            .list('v1', 'ConfigMap', { namespace: ns, labelSelector: selector })
            .then((items) => items.map((o) => o.metadata.name).sort());
        expect(await listed(`suite=${tag}`)).toEqual([names[0], names[1]].sort());
        expect(await listed(`suite=${tag},tier=b`)).toEqual([names[1]]);
        expect(await listed(`suite=${tag}-none`)).toEqual([]);
      });

      it('returns objects with their apiVersion and kind, in every namespace without one', async () => {
        const tag = fresh('all');
        const name = fresh('everywhere');
        await kube.apply(cm(name, { a: '1' }, { suite: tag }));
        const items = await kube.list<ConfigMap>('v1', 'ConfigMap', { labelSelector: `suite=${tag}` });
        expect(items).toHaveLength(1);
        expect(items[0]).toMatchObject({
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: { name, namespace: ns },
          data: { a: '1' },
        });
      });
    });

    describe('kinds that are not served', () => {
      const unserved = { apiVersion: 'contract.example.com/v1', kind: 'Nothing' };

      it('knows the built-in kinds and not an unknown one', async () => {
        expect(await kube.hasKind('v1', 'ConfigMap')).toBe(true);
        expect(await kube.hasKind('apps/v1', 'Deployment')).toBe(true);
        expect(await kube.hasKind(unserved.apiVersion, unserved.kind)).toBe(false);
      });

      it('finds nothing, lists nothing and deletes nothing of one', async () => {
        const r = { ...unserved, name: 'x', namespace: ns };
        expect(await kube.get(r)).toBeNull();
        expect(await kube.list(unserved.apiVersion, unserved.kind)).toEqual([]);
        await expect(kube.delete(r)).resolves.toBeUndefined();
      });

      it('fails to apply one, and notes it in a dry-run', async () => {
        const obj = { ...unserved, metadata: { name: 'x', namespace: ns } };
        await expect(kube.apply(obj)).rejects.toThrow();
        const dry = await kube.apply(obj, { dryRun: true });
        expect(dry).toMatchObject({ action: 'created', note: 'its CRD does not exist yet; cannot dry-run' });
      });
    });

    describe('a Lease through request()', () => {
      const path = () => `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases`;
      type Lease = KubeObject & { spec: { holderIdentity?: string } };
      const lease = (name: string, holder: string): Lease => ({
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name, namespace: ns },
        spec: { holderIdentity: holder },
      });

      it('creates once: a second create conflicts', async () => {
        const name = fresh('lease');
        const created = await kube.request<Lease>('POST', path(), { body: lease(name, 'a') });
        expect(created.metadata.resourceVersion).toMatch(/^\d+$/);
        const got = await kube.request<Lease>('GET', `${path()}/${name}`);
        expect(got.spec.holderIdentity).toBe('a');
        await expect(kube.request('POST', path(), { body: lease(name, 'b') })).rejects.toMatchObject({
          status: 409,
          reason: 'AlreadyExists',
        });
      });

      it('updates only from the current resourceVersion', async () => {
        const name = fresh('lease');
        const created = await kube.request<Lease>('POST', path(), { body: lease(name, 'a') });
        const updated = await kube.request<Lease>('PUT', `${path()}/${name}`, {
          body: { ...created, spec: { holderIdentity: 'b' } },
        });
        expect(updated.spec.holderIdentity).toBe('b');
        expect(updated.metadata.resourceVersion).not.toBe(created.metadata.resourceVersion);
        const stale = kube.request('PUT', `${path()}/${name}`, {
          body: { ...created, spec: { holderIdentity: 'c' } },
        });
        await expect(stale).rejects.toBeInstanceOf(ApiError);
        await expect(stale).rejects.toMatchObject({ status: 409 });
        const got = await kube.request<Lease>('GET', `${path()}/${name}`);
        expect(got.spec.holderIdentity).toBe('b');
      });

      it('answers 404 for a Lease that does not exist', async () => {
        await expect(kube.request('GET', `${path()}/${fresh('absent')}`)).rejects.toMatchObject({
          status: 404,
        });
      });
    });
  });
}
