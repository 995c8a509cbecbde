/**
 * Step 3: Argo CD's official install manifest, applied server-side into `argocd.namespace` (CRDs first and
 * established; the kube layer orders that). Reconciled means every object of the manifest is as the
 * manifest says, plus Argo CD's configuration objects (src/manifests/argocd-config.ts) merged into the
 * objects they belong to: this step is their one writer when it installs Argo CD (configure-argocd with
 * `install.source: skip`), and the admin password Secret's when the password is generated.
 */

import type { Config } from '../config/types.ts';
import { messageOf, StepError } from '../errors.ts';
import {
  argocdManifest,
  desiredArgocdConfig,
  droppedManifestMembers,
  passwordStored,
  readAdminPassword,
} from '../inputs/inputs.ts';
import { describeRef, groupOf, overlay } from '../kube/objects.ts';
import {
  applyNamedPermissions,
  applyPermissions,
  fullAccess,
  type Permission,
  removalPermissions,
  resourceOf,
} from '../kube/rbac.ts';
import { crdEstablished } from '../kube/status.ts';
import type { KubeObject } from '../kube/types.ts';
import { ARGO_CRDS, CLUSTER_SCOPED_KINDS, type LoadedManifest, NAMED_KINDS } from '../manifests/argocd.ts';
import { shapeWorkload, unknownComponents } from '../manifests/argocd-components.ts';
import { ARGOCD_SERVER, adminPasswordSecret } from '../manifests/argocd-settings.ts';
import { MANAGED_BY_LABELS } from '../manifests/common.ts';
import type { Check } from '../report/types.ts';
import type { NeedsInputs, Step, StepContext } from './context.ts';

const NAME = 'install-argocd';

const sameObject = (a: KubeObject, b: KubeObject) =>
  a.kind === b.kind && a.metadata.name === b.metadata.name && a.metadata.namespace === b.metadata.namespace;

/**
 * The manifest with Argo CD's configuration objects (src/manifests/argocd-config.ts: admin hash, settings,
 * the Git server's host keys and CA, the webhook key) merged into the objects they belong to, so each is
 * applied once, by this step. The Git server's host keys are in the same apply that creates repo-server: it
 * mounts argocd-ssh-known-hosts-cm at its start, and a later write reaches its volume only at the kubelet's
 * next sync, then Argo CD's next refresh (a first sync took 200 s).
 */
export async function desiredInstallObjects(
  ctx: StepContext,
  manifest: LoadedManifest,
): Promise<KubeObject[]> {
  const patches = await desiredArgocdConfig(ctx, manifest.objects);
  const unknown = unknownComponents(manifest.objects, ctx.config);
  if (unknown.length > 0)
    throw new StepError(
      NAME,
      `argocd.components: ${unknown.join(', ')} not in the Argo CD ${ctx.config.argocd.version} manifest (no such Deployment or StatefulSet): remove ${unknown.length > 1 ? 'them' : 'it'}`,
    );
  const objects = manifest.objects.map((obj) => {
    let merged = shapeWorkload(obj, ctx.config);
    for (const patch of patches) if (sameObject(obj, patch)) merged = overlay(merged, patch);
    return merged;
  });
  const missing = patches.filter((p) => !objects.some((o) => sameObject(o, p)));
  // The label is not decoration: an apply that owns no field at all (a bare name) loses its managedFields
  // entry on the next apply, which moves the namespace's resourceVersion on a run that changes nothing.
  const namespace: KubeObject = {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: ctx.config.argocd.namespace, labels: { ...MANAGED_BY_LABELS } },
  };
  return [namespace, ...objects, ...missing];
}

const major = (version: string) => Number(/^v?(\d+)\./.exec(version)?.[1] ?? Number.NaN);

/**
 * The version installed now: as the inventory recorded it, else argocd-server's image tag. A lower major
 * version is refused unless `argocd.allowDowngrade`: Argo CD migrates its stored state and CRDs forward only.
 */
async function refuseDowngrade(ctx: StepContext): Promise<void> {
  const { version, namespace, allowDowngrade } = ctx.config.argocd;
  const recorded = (await ctx.inventory.previous()).argocd;
  let installed = recorded?.installed && recorded.namespace === namespace ? recorded.version : undefined;
  if (installed === undefined) {
    const server = await ctx.kube.get({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      namespace,
      name: ARGOCD_SERVER,
    });
    installed = server ? imageVersion(server) : undefined;
  }
  if (installed === undefined || !(major(version) < major(installed))) return;
  if (allowDowngrade) {
    ctx.log.warn(`downgrading Argo CD from ${installed} to ${version} (argocd.allowDowngrade: true)`);
    return;
  }
  throw new StepError(
    NAME,
    `argocd.version ${version} would downgrade Argo CD ${installed} in ${namespace} across a major version, which Argo CD does not support (its CRDs and stored state migrate forward only): keep argocd.version ${installed} or later, or set argocd.allowDowngrade: true to force it`,
  );
}

/** Members of the previous manifest that this one no longer has are deleted (see droppedManifestMembers). */
async function pruneDropped(ctx: StepContext, version: string): Promise<number> {
  const stale = await droppedManifestMembers(ctx);
  let removed = 0;
  for (const m of stale) {
    if (await ctx.remove(m, { note: `not in the Argo CD ${version} manifest` })) removed++;
    else ctx.log.debug(`${describeRef(m)}: already gone or not ours`);
  }
  return removed;
}

async function reconcile(ctx: StepContext): Promise<string | undefined> {
  const { install, version, namespace } = ctx.config.argocd;
  if (install.source === 'skip') {
    // Argo CD is handed over: what this program installed is no longer its to prune or uninstall.
    if (ctx.mode === 'apply') {
      await ctx.inventory.forget('argocd');
      const recorded = (await ctx.inventory.previous()).argocd;
      await ctx.inventory.setArgocd({ namespace, version: recorded?.version ?? version, installed: false });
    }
    return 'skipped: Argo CD is managed elsewhere (argocd.install.source: skip)';
  }
  await refuseDowngrade(ctx);
  const manifest = await argocdManifest(ctx);
  ctx.log.info(
    `installing Argo CD ${version} into ${namespace} (${manifest.objects.length} objects from ${manifest.origin}, sha256 ${manifest.verified ? 'verified' : 'not pinned'})`,
  );
  const pw = await readAdminPassword(ctx);
  if (!pw.stored) {
    // Before its hash goes into argocd-secret: the password never exists only as a hash.
    await ctx.apply([adminPasswordSecret(pw)], { set: 'credentials' });
    passwordStored(ctx, pw);
  }
  const objects = await desiredInstallObjects(ctx, manifest);
  await ctx.apply(objects, { set: 'argocd' });
  const pruned = await pruneDropped(ctx, version);
  if (ctx.mode === 'apply') await ctx.inventory.setArgocd({ namespace, version, installed: true });
  ctx.state.install = {
    objects: manifest.objects.length,
    origin: manifest.origin,
    sha256: manifest.sha256,
    verified: manifest.verified,
  };
  return pruned > 0 ? `${pruned} objects of the previous manifest deleted` : undefined;
}

/** The image tag of argocd-server's first container: the version actually running. */
export function imageVersion(deployment: unknown): string | undefined {
  const containers = (
    deployment as { spec?: { template?: { spec?: { containers?: { image?: string }[] } } } }
  ).spec?.template?.spec?.containers;
  const image = containers?.[0]?.image;
  const tag = image?.includes('@') ? undefined : image?.split('/').at(-1)?.split(':')[1];
  return tag;
}

async function report(ctx: StepContext): Promise<Check[]> {
  const check = { id: 'argocd.install', required: true };
  const { namespace, version, install } = ctx.config.argocd;
  try {
    const notEstablished: string[] = [];
    for (const name of ARGO_CRDS) {
      const crd = await ctx.kube.get({
        apiVersion: 'apiextensions.k8s.io/v1',
        kind: 'CustomResourceDefinition',
        name,
      });
      const readiness = crd ? crdEstablished(crd) : { done: false, state: 'missing' };
      if (!readiness.done) notEstablished.push(`${name} (${readiness.state})`);
    }
    if (notEstablished.length > 0) {
      return [
        { ...check, ready: false, message: `Argo CD CRDs not established: ${notEstablished.join(', ')}` },
      ];
    }
    const server = await ctx.kube.get({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      namespace,
      name: ARGOCD_SERVER,
    });
    if (!server)
      return [
        { ...check, ready: false, message: `no Deployment ${ARGOCD_SERVER} in namespace ${namespace}` },
      ];
    const running = imageVersion(server);
    if (running) ctx.state.argocdVersion = running;
    if (install.source === 'skip') {
      return [
        {
          ...check,
          ready: true,
          message: `Argo CD ${running ?? '(version unknown)'} in ${namespace}, managed elsewhere (argocd.install.source: skip)`,
        },
      ];
    }
    if (running !== undefined && running !== version) {
      return [{ ...check, ready: false, message: `${ARGOCD_SERVER} runs ${running}, expected ${version}` }];
    }
    const applied = ctx.state.install;
    const detail = applied
      ? ` (${applied.objects} objects, sha256 ${applied.sha256.slice(0, 12)}…${applied.verified ? ' verified' : ''})`
      : '';
    return [{ ...check, ready: true, message: `Argo CD ${version} installed in ${namespace}${detail}` }];
  } catch (err) {
    return [{ ...check, ready: false, message: messageOf(err) }];
  }
}

/**
 * Applying the manifest: each kind in Argo CD's namespace (or cluster-wide), by name where NAMED_KINDS says,
 * with one LIST per kind otherwise (src/kube/apply.ts); `escalate`/`bind` for its roles and bindings (or full
 * access); Argo CD's namespace; and deleting, by name, what the manifest installed last no longer has.
 */
function needs(config: Config, inputs: NeedsInputs): Permission[] {
  if (inputs.run !== 'full') return [];
  const argo = config.argocd.namespace;
  const perms: Permission[] = [];
  for (const { apiVersion, kind, name, roleRef } of inputs.manifestKinds) {
    const group = groupOf(apiVersion);
    const resource = resourceOf(kind);
    const ns = CLUSTER_SCOPED_KINDS.has(kind) ? undefined : argo;
    // By name where a leak or an escalation would hurt (the chart names those of the bundled manifests).
    const named = name && NAMED_KINDS.has(`${group}/${kind}`) ? [name] : undefined;
    perms.push(
      ...(named ? applyNamedPermissions(group, resource, ns, named) : applyPermissions(group, resource, ns)),
    );
    // The apply reads the objects of a kind in a namespace with one LIST (src/kube/apply.ts).
    if (!named && ns) perms.push({ verb: 'list', group, resource, namespace: ns });
    // RBAC escalation prevention: granting what one does not hold needs `escalate`/`bind` (or holding it all).
    if (kind === 'ClusterRole' || kind === 'Role') {
      perms.push({ verb: 'escalate', group, resource, namespace: ns, names: named, or: [fullAccess(ns)] });
    }
    if (kind === 'ClusterRoleBinding' || kind === 'RoleBinding') {
      const roles = kind === 'ClusterRoleBinding' ? 'clusterroles' : 'roles';
      const names = roleRef ? [roleRef] : undefined;
      perms.push({ verb: 'bind', group, resource: roles, namespace: ns, names, or: [fullAccess(ns)] });
    }
  }
  if (inputs.manifestKinds.length > 0)
    perms.push(...applyNamedPermissions('', 'namespaces', undefined, [argo]));
  // The previous manifest's objects this one no longer has: by name, only what the inventory says.
  perms.push(
    ...removalPermissions(
      inputs.removals?.delete.filter((m) => m.set === 'argocd') ?? [],
      CLUSTER_SCOPED_KINDS,
    ),
  );
  return perms;
}

export const installArgocd: Step = { name: NAME, needs, reconcile, report };
