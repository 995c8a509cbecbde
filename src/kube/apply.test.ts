import { describe, expect, it } from 'vitest';
import { type ApplyContext, applyObject, CREATED_FOR, FIELD_MANAGER, PART_OF } from './apply.ts';
import { Discovery } from './discovery.ts';
import type { KubeObject } from './types.ts';

const OURS = 'applyset-ours-v1';
const THEIRS = 'applyset-another-inventory-v1';

const desired: KubeObject = {
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: 'argocd-rbac-cm', namespace: 'argocd', labels: { app: 'argocd' } },
  data: { 'policy.default': '' },
};

/** The live ConfigMap, its part-of label (if any) owned by `labelOwner`'s Apply entry. */
function live(partOf: string | undefined, labelOwner: string): KubeObject {
  const labels: Record<string, unknown> = { 'f:app': {} };
  const entries = [
    {
      manager: FIELD_MANAGER,
      operation: 'Apply',
      apiVersion: 'v1',
      fieldsV1: {
        'f:data': { 'f:policy.default': {} },
        'f:metadata': {
          'f:labels': labelOwner === FIELD_MANAGER && partOf ? { ...labels, [`f:${PART_OF}`]: {} } : labels,
        },
      },
    },
    ...(labelOwner !== FIELD_MANAGER && partOf
      ? [
          {
            manager: labelOwner,
            operation: 'Apply',
            apiVersion: 'v1',
            fieldsV1: { 'f:metadata': { 'f:labels': { [`f:${PART_OF}`]: {} } } },
          },
        ]
      : []),
  ];
  return {
    ...desired,
    metadata: {
      ...desired.metadata,
      resourceVersion: '5',
      labels: { app: 'argocd', ...(partOf ? { [PART_OF]: partOf } : {}) },
      managedFields: entries,
    },
  };
}

/** applyObject against a stub API server: returns the PATCH body it sent (null: none) and the change. */
async function applyOver(
  current: KubeObject | null,
  opts: { keepOnly?: boolean; createdFor?: string; clusterScoped?: boolean } = {},
) {
  let sent: KubeObject | null = null;
  const ctx: ApplyContext = {
    discovery: new Discovery(async () => ({
      resources: opts.clusterScoped
        ? [{ name: 'clusterroles', kind: 'ClusterRole', namespaced: false }]
        : [{ name: 'configmaps', kind: 'ConfigMap', namespaced: true }],
    })),
    request: (async (method: string, _path: string, o?: { body?: unknown }) => {
      if (method === 'GET') return current;
      sent = o?.body as KubeObject;
      return { ...sent, metadata: { ...sent.metadata, resourceVersion: '6' } };
    }) as ApplyContext['request'],
  };
  const { namespace: _n, ...clusterMeta } = desired.metadata;
  const obj = opts.clusterScoped
    ? { ...desired, apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: clusterMeta }
    : desired;
  const change = await applyObject(
    ctx,
    obj,
    { partOf: OURS, partOfKeepOnly: opts.keepOnly, createdFor: opts.createdFor },
    current,
  );
  return { sent: sent as KubeObject | null, change };
}

describe('applyObject: the ApplySet part-of label', () => {
  it('labels an object it creates, and keeps the label of an object already ours (no PATCH)', async () => {
    const created = await applyOver(null);
    expect(created.sent?.metadata.labels?.[PART_OF]).toBe(OURS);
    expect(created.change).toMatchObject({ action: 'created', member: true });
    const again = await applyOver(live(OURS, FIELD_MANAGER));
    expect(again.sent).toBeNull();
    expect(again.change).toMatchObject({ action: 'unchanged', member: true });
  });

  it("takes over an object this program's field manager labelled for another inventory", async () => {
    // Without this the apply would omit the label it owns, so the server would drop it: the object would
    // then be in no inventory, and the next run would never label it again.
    const { sent, change } = await applyOver(live(THEIRS, FIELD_MANAGER));
    expect(sent?.metadata.labels?.[PART_OF]).toBe(OURS);
    expect(change).toMatchObject({ action: 'updated', member: true });
  });

  it("keeps another inventory's label on a cluster-scoped object, and does not take it over", async () => {
    // A CRD or ClusterRole is shared by every Argo CD install: taking it over would make this release's
    // uninstall delete what another release still uses; dropping the label would leave it in no inventory.
    const { namespace: _ns, ...clusterMeta } = live(THEIRS, FIELD_MANAGER).metadata;
    const clusterLive = { ...live(THEIRS, FIELD_MANAGER), kind: 'ClusterRole', metadata: clusterMeta };
    const { sent, change } = await applyOver(clusterLive, { clusterScoped: true });
    expect(sent?.metadata.labels?.[PART_OF]).toBe(THEIRS);
    expect(change.member).toBeUndefined();
  });

  it('leaves a part-of label someone else set, and the object out of the inventory', async () => {
    const { sent, change } = await applyOver(live(THEIRS, 'kubectl'));
    expect(sent?.metadata.labels?.[PART_OF]).toBeUndefined();
    expect(change.member).toBeUndefined();
  });

  it('never labels an object that existed unlabelled, nor adopts one where it only keeps labels', async () => {
    const existing = await applyOver(live(undefined, FIELD_MANAGER));
    expect(existing.sent).toBeNull();
    expect(existing.change.member).toBeUndefined();
    const keepOnly = await applyOver(live(THEIRS, FIELD_MANAGER), { keepOnly: true });
    expect(keepOnly.sent?.metadata.labels?.[PART_OF]).toBeUndefined();
    expect(keepOnly.change.member).toBeUndefined();
  });

  it("adopts an object annotated as created for this run (the chart's Argo CD namespace), no other", async () => {
    const annotated = (value: string): KubeObject => {
      const o = live(undefined, FIELD_MANAGER);
      return { ...o, metadata: { ...o.metadata, annotations: { [CREATED_FOR]: value } } };
    };
    const ours = await applyOver(annotated('seldon-system'), { createdFor: 'seldon-system' });
    expect(ours.sent?.metadata.labels?.[PART_OF]).toBe(OURS);
    expect(ours.change).toMatchObject({ action: 'updated', member: true });
    const other = await applyOver(annotated('elsewhere'), { createdFor: 'seldon-system' });
    expect(other.sent).toBeNull();
    expect(other.change.member).toBeUndefined();
    const keepOnly = await applyOver(annotated('seldon-system'), {
      createdFor: 'seldon-system',
      keepOnly: true,
    });
    expect(keepOnly.change.member).toBeUndefined();
  });
});
