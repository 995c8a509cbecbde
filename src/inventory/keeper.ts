/**
 * The run's bookkeeping of the inventory (src/manifests/inventory.ts): read once, updated by every apply that
 * created a member and every removal, and written back — in apply mode, right after the batch that changed
 * it, so it is in the cluster in the same run that created the objects. A run that stops between a create and
 * that write is repaired by the next: the object carries the part-of label, and an apply that finds its own
 * label counts it as a member again. An unchanged inventory is not written (the run stays a no-op).
 */
import { refKey } from '../kube/objects.ts';
import type { Kube, ObjectChange, ObjectRef } from '../kube/types.ts';
import {
  applysetId,
  INVENTORY_CONFIGMAP,
  type Inventory,
  type InventoryEnvironment,
  type InventoryMember,
  type InventorySet,
  inventoryConfigMap,
  parseInventory,
  sortMembers,
} from '../manifests/inventory.ts';

export class InventoryKeeper {
  readonly id: string;
  private loaded: Promise<Inventory> | undefined;
  private current: Inventory | undefined;
  private written = '';
  private readonly kube: Kube;
  readonly namespace: string;
  private readonly persist: boolean;

  constructor(kube: Kube, namespace: string, persist: boolean) {
    this.kube = kube;
    this.namespace = namespace;
    this.persist = persist;
    this.id = applysetId(namespace);
  }

  /** The inventory as the run found it (read once). */
  previous(): Promise<Inventory> {
    this.loaded ??= this.kube
      .get({ apiVersion: 'v1', kind: 'ConfigMap', namespace: this.namespace, name: INVENTORY_CONFIGMAP })
      .then((cm) => {
        const inv = parseInventory(cm);
        this.current = structuredClone(inv);
        this.written = JSON.stringify(inventoryConfigMap(inv, this.namespace));
        return inv;
      });
    return this.loaded;
  }

  private async state(): Promise<Inventory> {
    await this.previous();
    return this.current!;
  }

  /** Members of one set, as found plus as recorded by this run. */
  async members(set?: InventorySet): Promise<InventoryMember[]> {
    const inv = await this.state();
    return inv.members.filter((m) => set === undefined || m.set === set);
  }

  /** Records the members among applied changes (created now, or already labelled as ours). */
  async noteApplied(changes: readonly ObjectChange[], set: InventorySet): Promise<void> {
    const inv = await this.state();
    // An object applied by two steps (the known hosts: install, then git-credentials) stays in the set that
    // recorded it first, or the inventory would flip between them on every run.
    const known = new Set(inv.members.map(refKey));
    const added = changes
      .filter((c) => c.member && !known.has(refKey(c.ref)))
      .map((c) => ({ set, ...stripRef(c.ref) }));
    if (added.length === 0) return;
    inv.members = sortMembers([...inv.members, ...added]);
    await this.flush();
  }

  async noteRemoved(refs: readonly ObjectRef[]): Promise<void> {
    const inv = await this.state();
    const keys = new Set(refs.map(refKey));
    inv.members = inv.members.filter((m) => !keys.has(refKey(m)));
    await this.flush();
  }

  /** Drops a set without deleting anything (Argo CD handed over to another manager: `install.source: skip`). */
  async forget(set: InventorySet): Promise<void> {
    const inv = await this.state();
    inv.members = inv.members.filter((m) => m.set !== set);
    await this.flush();
  }

  async setEnvironments(environments: InventoryEnvironment[]): Promise<void> {
    const inv = await this.state();
    inv.environments = environments;
    await this.flush();
  }

  async setArgocd(argocd: Inventory['argocd']): Promise<void> {
    const inv = await this.state();
    if (argocd) inv.argocd = argocd;
    else delete inv.argocd;
    await this.flush();
  }

  /** Writes the parent when its content changed since it was read or last written (apply mode only). */
  async flush(): Promise<void> {
    if (!this.persist || !this.current) return;
    const desired = inventoryConfigMap(this.current, this.namespace);
    const text = JSON.stringify(desired);
    if (text === this.written) return;
    await this.kube.apply(desired);
    this.written = text;
  }

  /** Deletes the parent itself (uninstall, last). */
  async drop(): Promise<void> {
    await this.kube.delete({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      namespace: this.namespace,
      name: INVENTORY_CONFIGMAP,
    });
    this.current = { version: 1, environments: [], members: [] };
    this.written = JSON.stringify(inventoryConfigMap(this.current, this.namespace));
  }
}

function stripRef(ref: ObjectRef): ObjectRef {
  return {
    apiVersion: ref.apiVersion,
    kind: ref.kind,
    name: ref.name,
    ...(ref.namespace ? { namespace: ref.namespace } : {}),
  };
}
