/**
 * Server-side apply with one field manager removes every field the manager applied before but leaves out
 * now. When this program installed Argo CD and later only configures it (`install.source: skip`), its small
 * patches would therefore strip argocd-server of its selector and containers (422) — and its ConfigMaps of
 * their labels. `withOwnedFields` re-sends what the manager owns (read from the live object's managedFields),
 * with the patch on top, so switching to `skip` changes nothing but the patch.
 */
import { projectFields } from '../kube/fields.ts';
import { overlay } from '../kube/objects.ts';
import type { KubeObject } from '../kube/types.ts';
import { FIELD_MANAGER } from './common.ts';

type FieldsV1 = Record<string, unknown>;

interface ManagedFieldsEntry {
  manager?: string;
  operation?: string;
  fieldsV1?: FieldsV1;
}

export { projectFields };

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
