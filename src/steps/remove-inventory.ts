/**
 * `uninstall`: removes what the inventory says this program created, and gives back what it only configured.
 * Reconciled means: no member of the inventory is left — Applications first (without what they deployed,
 * unless `environments.deleteRemovedResources`: then with Argo CD's resources-finalizer, and waited for while
 * Argo CD still runs), then the AppProject, the credentials Secrets and, when this program installed it, Argo CD
 * (its namespaced objects, then its cluster-wide roles, its CRDs, its namespace); the environment namespaces
 * (never deleted) lose the labels and annotation this program set; last the report ConfigMap and the inventory.
 * What the inventory does not list is never deleted.
 */
import { environmentsOf } from '../config/environments.ts';
import { isSystemNamespace, reservedReason } from '../config/guards.ts';
import type { Config } from '../config/types.ts';
import { StepError } from '../errors.ts';
import { groupOf } from '../kube/objects.ts';
import { type Permission, resourceOf } from '../kube/rbac.ts';
import type { KubeObject } from '../kube/types.ts';
import { waitFor } from '../kube/wait.ts';
import { RESOURCES_FINALIZER } from '../manifests/application.ts';
import { CLUSTER_SCOPED_KINDS } from '../manifests/argocd.ts';
import type { Inventory, InventoryMember } from '../manifests/inventory.ts';
import type { Check } from '../report/types.ts';
import type { NeedsInputs, Step, StepContext } from './context.ts';

const NAME = 'remove-inventory';

/** Deletion order: what depends on Argo CD before Argo CD; namespaced before cluster-wide; CRDs, namespaces last. */
export function removalRank(m: InventoryMember): number {
  if (m.kind === 'Application') return 0;
  if (m.kind === 'AppProject') return 1;
  if (m.kind === 'Namespace') return 6;
  if (m.kind === 'CustomResourceDefinition') return 5;
  if (m.set !== 'argocd') return 2;
  return m.namespace ? 3 : 4;
}

/** Namespaces uninstall never deletes: the environments (recorded and configured) and the reserved ones. */
export function keepNamespace(ctx: StepContext, inventory: Inventory, name: string): boolean {
  const environments = [
    ...inventory.environments.map((e) => e.namespace),
    ...environmentsOf(ctx.config).map((e) => e.namespace),
  ];
  if (environments.includes(name)) return true;
  if (name === ctx.config.argocd.namespace || name === inventory.argocd?.namespace)
    return isSystemNamespace(name) || name === ctx.runNamespace || name === ctx.config.seldonDeploy.namespace;
  return reservedReason(name, ctx.config, ctx.runNamespace) !== undefined;
}

async function reconcile(ctx: StepContext): Promise<string> {
  const inventory = await ctx.inventory.previous();
  const installed = inventory.argocd?.installed === true;
  const members = inventory.members
    .filter((m) => installed || m.set !== 'argocd')
    .sort((a, b) => removalRank(a) - removalRank(b));
  const cascade = ctx.config.environments.deleteRemovedResources;
  const apps = members.filter((m) => m.kind === 'Application');
  for (const m of apps) {
    await ctx.remove(m, {
      note: cascade ? 'uninstall; Argo CD deletes what it deployed' : 'uninstall; what it deployed stays',
      ...(cascade ? { finalizer: RESOURCES_FINALIZER } : {}),
    });
  }
  // Argo CD must still run while an Application waits on a finalizer (its own or one a user put there).
  if (apps.length > 0 && ctx.mode === 'uninstall') {
    await waitFor(
      `${apps.length} Applications to be deleted`,
      async () => {
        const left = (await Promise.all(apps.map((a) => ctx.kube.get(a)))).filter(
          (a): a is KubeObject => a !== null,
        );
        return left.length === 0
          ? { done: true, state: 'deleted', value: undefined }
          : {
              done: false,
              state: `waiting on finalizers: ${left.map((a) => `${a.metadata.name} (${(a.metadata.finalizers as string[] | undefined)?.join(', ')})`).join('; ')}`,
            };
      },
      {
        timeoutMs: Math.min(ctx.config.environments.syncTimeout, ctx.remainingMs()),
        intervalMs: ctx.deps.pollIntervalMs ?? 2000,
        signal: ctx.signal,
      },
    ).catch((err: unknown) => {
      throw new StepError(
        NAME,
        `Applications still there after ${ctx.config.environments.syncTimeout / 1000}s: Argo CD has not finished their finalizers (${err instanceof Error ? err.message : String(err)}); Argo CD is left installed so it can — run uninstall again`,
        { cause: err },
      );
    });
  }
  let deleted = apps.length;
  // A namespace that is (or was) an environment, or a reserved one, is never deleted even when this program
  // created it (Argo CD's namespace listed as an environment): it holds workloads that are not ours. It is
  // given back instead, and leaves the inventory.
  const kept = members.filter((m) => m.kind === 'Namespace' && keepNamespace(ctx, inventory, m.name));
  for (const m of members.filter((x) => x.kind !== 'Application' && !kept.includes(x))) {
    if (await ctx.remove(m, { note: 'uninstall' })) deleted++;
  }
  if (kept.length > 0) {
    ctx.log.warn(
      `not deleting namespace ${kept.map((m) => m.name).join(', ')}: an environment's or a reserved namespace; given back instead`,
    );
    await ctx.inventory.noteRemoved(kept);
  }
  // Namespaces this program labelled but did not create: the environments, and Argo CD's when it existed before.
  const given = [...inventory.environments.map((e) => e.namespace), ...kept.map((m) => m.name)];
  const argoNs = inventory.argocd?.namespace;
  if (installed && argoNs && !members.some((m) => m.kind === 'Namespace' && m.name === argoNs))
    given.push(argoNs);
  const exist: string[] = [];
  for (const name of [...new Set(given)])
    if (await ctx.kube.get({ apiVersion: 'v1', kind: 'Namespace', name })) exist.push(name);
  await ctx.apply(
    exist.map((name) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } })),
    { set: false, removal: 'uninstall: labels and annotations of sd-gitops-bootstrap removed' },
  );
  // The run's own bookkeeping: the report, then the inventory itself (the Lease goes after the run).
  const report = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    namespace: ctx.runNamespace,
    name: ctx.config.report.configMap,
  };
  if (await ctx.kube.get(report)) {
    if (ctx.mode === 'uninstall') await ctx.kube.delete(report);
  }
  if (ctx.mode === 'uninstall') await ctx.inventory.drop();
  return `${deleted} objects deleted, ${exist.length} namespaces given back`;
}

async function report(ctx: StepContext): Promise<Check[]> {
  const left = await ctx.inventory.members();
  const installed = (await ctx.inventory.previous()).argocd?.installed === true;
  const remaining = left.filter((m) => installed || m.set !== 'argocd');
  return [
    remaining.length === 0
      ? { id: 'uninstall', ready: true, required: true, message: 'nothing of the inventory is left' }
      : {
          id: 'uninstall',
          ready: false,
          required: true,
          message: `${remaining.length} objects of the inventory are left: ${remaining
            .slice(0, 5)
            .map((m) => `${m.kind} ${m.namespace ? `${m.namespace}/` : ''}${m.name}`)
            .join(', ')}${remaining.length > 5 ? ', …' : ''}`,
        },
  ];
}

/**
 * Reading and deleting each inventory member by name (patching an Application for the
 * resources-finalizer), giving back the environment namespaces (and Argo CD's, when it was installed);
 * the preflight adds the inventory, the report ConfigMap and the Lease.
 */
function needs(config: Config, inputs: NeedsInputs): Permission[] {
  if (inputs.run !== 'uninstall') return [];
  const { inventory } = inputs;
  const perms: Permission[] = [];
  const installed = inventory.argocd?.installed === true;
  for (const m of inventory.members.filter((x) => installed || x.set !== 'argocd')) {
    const group = groupOf(m.apiVersion);
    const resource = resourceOf(m.kind);
    const ns = CLUSTER_SCOPED_KINDS.has(m.kind) ? undefined : m.namespace;
    for (const verb of ['get', 'delete'])
      perms.push({ verb, group, resource, namespace: ns, names: [m.name] });
    if (m.kind === 'Application' && config.environments.deleteRemovedResources)
      perms.push({ verb: 'patch', group, resource, namespace: ns, names: [m.name] });
  }
  const release = inventory.environments.map((e) => e.namespace);
  if (installed && inventory.argocd) release.push(inventory.argocd.namespace);
  if (release.length > 0)
    for (const verb of ['get', 'patch'])
      perms.push({ verb, group: '', resource: 'namespaces', names: release });
  return perms;
}

export const removeInventory: Step = { name: NAME, needs, reconcile, report };
