/**
 * The inventory: what the bootstrap created, kept in the cluster as an ApplySet (KEP-3659). The parent is a
 * ConfigMap in the run's namespace carrying `applyset.kubernetes.io/id`, `…/tooling`,
 * `…/contains-group-kinds` and `…/additional-namespaces`; every member carries
 * `applyset.kubernetes.io/part-of: <id>`, so `kubectl get <kind> -A -l applyset.kubernetes.io/part-of=<id>`
 * lists them.
 *
 * Beyond the standard, the parent's `inventory.json` names every member. Pruning by the labels alone would need
 * LIST on every kind in every namespace — Secrets included, i.e. reading every Secret there — which the chart's
 * by-name RBAC deliberately does not grant. With the names the run GETs and DELETEs by name, and deletes only an
 * object that still carries our part-of label (a user's object of the same name is never touched).
 *
 * A member is an object this program created (absent before its first apply, or labelled by this program's
 * field manager for another inventory: taken over, src/kube/apply.ts) — never one that existed before and was
 * only configured (a user's namespace, the objects of an Argo CD managed elsewhere).
 */
import { createHash } from 'node:crypto';
import { groupOf, refKey } from '../kube/objects.ts';
import type { KubeObject, ObjectRef } from '../kube/types.ts';
import { MANAGED_BY_LABELS } from './common.ts';

export const INVENTORY_CONFIGMAP = 'sd-gitops-bootstrap-inventory';
export const INVENTORY_KEY = 'inventory.json';
export const APPLYSET_ID_LABEL = 'applyset.kubernetes.io/id';
export const APPLYSET_PART_OF_LABEL = 'applyset.kubernetes.io/part-of';
export const APPLYSET_TOOLING = 'applyset.kubernetes.io/tooling';
export const APPLYSET_GROUP_KINDS = 'applyset.kubernetes.io/contains-group-kinds';
export const APPLYSET_NAMESPACES = 'applyset.kubernetes.io/additional-namespaces';
export const TOOLING = 'sd-gitops-bootstrap/v0.1.0';

/**
 * Which part of the run applied a member; a part is pruned only by the step that knows all of it.
 * `argocd`: Argo CD's install manifest (pruned when a new version drops objects); `environments`: the AppProject
 * and Applications (pruned when an environment leaves the config); the others are kept until uninstall.
 */
export type InventorySet = 'argocd' | 'environments' | 'settings' | 'credentials' | 'batch';

export interface InventoryMember extends ObjectRef {
  set: InventorySet;
}

export interface InventoryEnvironment {
  namespace: string;
  application: string;
}

export interface Inventory {
  version: 1;
  /** Argo CD as last applied: `installed` false when it is managed elsewhere (`install.source: skip`). */
  argocd?: { namespace: string; version: string; installed: boolean };
  /** The environments of the last run that applied them (namespaces are never members: they are released). */
  environments: InventoryEnvironment[];
  members: InventoryMember[];
}

export const emptyInventory = (): Inventory => ({ version: 1, environments: [], members: [] });

/** KEP-3659: `applyset-<base64url(sha256(<name>.<namespace>.<kind>.<group>))>-v1`. */
export function applysetId(namespace: string, name: string = INVENTORY_CONFIGMAP): string {
  const digest = createHash('sha256').update(`${name}.${namespace}.ConfigMap.`).digest('base64url');
  return `applyset-${digest}-v1`;
}

/** `Kind.group`, the core group bare: `Deployment.apps`, `ConfigMap`. */
export function groupKind(ref: Pick<ObjectRef, 'apiVersion' | 'kind'>): string {
  const group = groupOf(ref.apiVersion);
  return group ? `${ref.kind}.${group}` : ref.kind;
}

/** Members in a fixed order (so an unchanged inventory is byte-identical and its apply changes nothing). */
export function sortMembers(members: InventoryMember[]): InventoryMember[] {
  const unique = new Map<string, InventoryMember>();
  for (const m of members) unique.set(refKey(m), m);
  return [...unique.values()].sort((a, b) => refKey(a).localeCompare(refKey(b)));
}

/** The ApplySet parent ConfigMap holding `inventory`. */
export function inventoryConfigMap(inventory: Inventory, namespace: string): KubeObject {
  const members = sortMembers(inventory.members).map((m) => ({
    set: m.set,
    apiVersion: m.apiVersion,
    kind: m.kind,
    ...(m.namespace ? { namespace: m.namespace } : {}),
    name: m.name,
  }));
  const environments = [...inventory.environments].sort((a, b) => a.namespace.localeCompare(b.namespace));
  const doc: Inventory = {
    version: 1,
    ...(inventory.argocd ? { argocd: inventory.argocd } : {}),
    environments,
    members,
  };
  const kinds = [...new Set(members.map(groupKind))].sort();
  const namespaces = [...new Set(members.flatMap((m) => (m.namespace ? [m.namespace] : [])))]
    .filter((ns) => ns !== namespace)
    .sort();
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: INVENTORY_CONFIGMAP,
      namespace,
      labels: { ...MANAGED_BY_LABELS, [APPLYSET_ID_LABEL]: applysetId(namespace) },
      annotations: {
        [APPLYSET_TOOLING]: TOOLING,
        [APPLYSET_GROUP_KINDS]: kinds.join(','),
        [APPLYSET_NAMESPACES]: namespaces.join(','),
      },
    },
    data: { [INVENTORY_KEY]: `${JSON.stringify(doc, null, 2)}\n` },
  };
}

const SETS = new Set<InventorySet>(['argocd', 'environments', 'settings', 'credentials', 'batch']);

/** The inventory in a parent ConfigMap; an absent or unreadable one is empty (nothing is then ever deleted). */
export function parseInventory(cm: KubeObject | null): Inventory {
  const text = (cm?.data as Record<string, string> | undefined)?.[INVENTORY_KEY];
  if (!text) return emptyInventory();
  let raw: Partial<Inventory>;
  try {
    raw = JSON.parse(text) as Partial<Inventory>;
  } catch {
    return emptyInventory();
  }
  const members = (Array.isArray(raw.members) ? raw.members : []).filter(
    (m): m is InventoryMember =>
      !!m &&
      typeof m.apiVersion === 'string' &&
      typeof m.kind === 'string' &&
      typeof m.name === 'string' &&
      SETS.has(m.set),
  );
  const environments = (Array.isArray(raw.environments) ? raw.environments : []).filter(
    (e): e is InventoryEnvironment =>
      !!e && typeof e.namespace === 'string' && typeof e.application === 'string',
  );
  return {
    version: 1,
    ...(raw.argocd && typeof raw.argocd.version === 'string' ? { argocd: raw.argocd } : {}),
    environments,
    members: sortMembers(members),
  };
}

/** Does the live object carry this ApplySet's part-of label (i.e. is it still ours to delete)? */
export function isMember(live: KubeObject | null, id: string): boolean {
  return live?.metadata.labels?.[APPLYSET_PART_OF_LABEL] === id;
}
