/**
 * Server-side apply with one field manager removes every field the manager applied before but leaves out
 * now. When this program installed Argo CD and later only configures it (`install.source: skip`), its small
 * patches would therefore strip argocd-server of its selector and containers (422) — and its ConfigMaps of
 * their labels. `withOwnedFields` re-sends what the manager owns (read from the live object's managedFields),
 * with the patch on top, so switching to `skip` changes nothing but the patch.
 */
import { isDeepStrictEqual } from 'node:util';
import { overlay } from '../kube/objects.ts';
import type { KubeObject } from '../kube/types.ts';
import { FIELD_MANAGER } from '../manifests/common.ts';

type FieldsV1 = Record<string, unknown>;

interface ManagedFieldsEntry {
  manager?: string;
  operation?: string;
  fieldsV1?: FieldsV1;
}

const isMap = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** A fieldsV1 node with no children but `.`: the whole value is owned. */
const isLeaf = (node: unknown) => !isMap(node) || Object.keys(node).every((k) => k === '.');

/** The part of `value` that the fieldsV1 tree `fields` names (`f:` keys, `k:` list items, `v:` set values). */
export function projectFields(value: unknown, fields: unknown): unknown {
  if (isLeaf(fields)) return structuredClone(value);
  const tree = fields as FieldsV1;
  if (Array.isArray(value)) {
    // Items in the live order: the order of an applied list is the order the next apply keeps.
    const keyed = Object.entries(tree)
      .filter(([k]) => k.startsWith('k:'))
      .map(([k, sub]) => ({ key: JSON.parse(k.slice(2)) as Record<string, unknown>, sub }));
    const sets = new Set(Object.keys(tree).filter((k) => k.startsWith('v:')));
    const out: unknown[] = [];
    value.forEach((item, index) => {
      const match = keyed.find(
        ({ key }) => isMap(item) && Object.entries(key).every(([kk, vv]) => isDeepStrictEqual(item[kk], vv)),
      );
      if (match) out.push({ ...match.key, ...(projectFields(item, match.sub) as Record<string, unknown>) });
      else if (sets.has(`v:${JSON.stringify(item)}`)) out.push(structuredClone(item));
      else if (`i:${index}` in tree) out.push(projectFields(item, tree[`i:${index}`]));
    });
    return out;
  }
  if (!isMap(value)) return structuredClone(value);
  const out: Record<string, unknown> = {};
  for (const [k, sub] of Object.entries(tree)) {
    if (!k.startsWith('f:')) continue;
    const name = k.slice(2);
    if (name in value) out[name] = projectFields(value[name], sub);
  }
  return out;
}

/** The fields of `live` that `manager` owns through server-side apply, as an object; null when none. */
export function ownedBy(live: KubeObject, manager: string = FIELD_MANAGER): Record<string, unknown> | null {
  const entries = (live.metadata.managedFields ?? []) as ManagedFieldsEntry[];
  const entry = entries.find((e) => e.manager === manager && e.operation === 'Apply');
  if (!entry?.fieldsV1) return null;
  return projectFields(live, entry.fieldsV1) as Record<string, unknown>;
}

/** `patch`, plus every field of `live` our manager already owns (so applying it removes nothing). */
export function withOwnedFields(live: KubeObject | null, patch: KubeObject): KubeObject {
  const owned = live ? ownedBy(live) : null;
  if (!owned) return patch;
  const identity = {
    apiVersion: patch.apiVersion,
    kind: patch.kind,
    metadata: { name: patch.metadata.name, namespace: patch.metadata.namespace },
  };
  return overlay(overlay(owned, identity), patch) as KubeObject;
}
