/**
 * `apply --scope drift` (the chart's scheduled CronJob): the narrow run of an identity that must never be
 * able to grant rights. It sets back only fields of objects that already exist outside the Argo CD
 * namespace and that it names — the environment namespaces' labels and annotation, and Seldon Deploy's
 * `git-creds` Secret — and compares everything else it can read without a Secret of the Argo CD namespace
 * (Argo CD's install, its settings, the AppProject, the Applications, the VirtualService, pending removals),
 * read-only: a difference, or a missing object it may not create, is a not-ready check naming the object
 * and `helm upgrade`. Why: every object of the Argo CD namespace is cluster-admin-equivalent through Argo
 * CD's application controller (README: "Drift repaired between upgrades").
 */

import type { Config } from '../config/types.ts';
import { messageOf } from '../errors.ts';
import {
  argocdManifest,
  plannedRemovals,
  readGitCredentials,
  requireSeldonDeployNamespace,
  virtualServicePlan,
} from '../inputs/inputs.ts';
import { describeRef, groupOf, includesDesired, overlay, refOf } from '../kube/objects.ts';
import { type Permission, resourceOf } from '../kube/rbac.ts';
import type { KubeObject, ObjectRef } from '../kube/types.ts';
import { application } from '../manifests/application.ts';
import { appProjectKeepingOthers } from '../manifests/appproject.ts';
import { CLUSTER_SCOPED_KINDS, NAMED_KINDS } from '../manifests/argocd.ts';
import { shapeWorkload } from '../manifests/argocd-components.ts';
import { mergedWithLive } from '../manifests/argocd-config.ts';
import { argocdConfigTargets } from '../manifests/argocd-settings.ts';
import { environmentsOf } from '../manifests/common.ts';
import { seldonGitCredsSecret } from '../manifests/git-credentials.ts';
import { namespaceFor } from '../manifests/namespace.ts';
import { virtualService } from '../manifests/virtualservice.ts';
import type { Check } from '../report/types.ts';
import type { NeedsInputs, Step, StepContext } from './context.ts';

const NAME = 'repair-drift';
export const REPAIR = 'run `helm upgrade` to repair';

/** An object the drift run found different from the config (or missing), and did not write. */
export interface DriftFinding {
  ref: ObjectRef;
  /** `missing`, or the dot paths that differ. */
  what: 'missing' | string[];
}

/** Kinds a drift run compares in the install manifest: never Secrets (not readable), CRDs or Namespaces. */
export function comparedInManifest(obj: KubeObject): boolean {
  if (obj.kind === 'Secret' || obj.kind === 'CustomResourceDefinition' || obj.kind === 'Namespace')
    return false;
  // The Git server's host keys and CA: merged with what the cluster holds.
  return !mergedWithLive(obj);
}

/**
 * The objects a drift run compares, read-only: the install manifest as install-argocd merges it (Secrets
 * aside), this program's Argo CD settings (argocd-secret aside), the AppProject, the Applications and the
 * VirtualService. Each is compared as a whole desired object with the live one (`includesDesired`).
 */
export async function comparedObjects(ctx: StepContext): Promise<KubeObject[]> {
  const { config } = ctx;
  const settings = argocdConfigTargets(config).filter((o) => o.kind !== 'Secret');
  const same = (a: KubeObject, b: KubeObject) =>
    a.kind === b.kind && a.metadata.name === b.metadata.name && a.metadata.namespace === b.metadata.namespace;
  const out: KubeObject[] = [];
  if (config.argocd.install.source !== 'skip') {
    const manifest = await argocdManifest(ctx);
    for (const obj of manifest.objects.filter(comparedInManifest)) {
      let merged = shapeWorkload(obj, config);
      for (const patch of settings) if (same(obj, patch)) merged = overlay(merged, patch);
      out.push(merged);
    }
    out.push(...settings.filter((p) => !manifest.objects.some((o) => same(o, p))));
  } else out.push(...settings);
  const project = appProjectKeepingOthers(config, null);
  const liveProject = await ctx.kube.get(refOf(project));
  out.push(appProjectKeepingOthers(config, liveProject));
  out.push(...environmentsOf(config).map((env) => application(config, env)));
  const vs = await virtualServicePlan(ctx);
  if (vs.create) out.push(virtualService(config, vs.apiVersion));
  return out;
}

/** What this scope sets back: the environment namespaces and Seldon Deploy's Git credentials Secret. */
async function repairable(ctx: StepContext): Promise<KubeObject[]> {
  await requireSeldonDeployNamespace(ctx);
  const creds = await readGitCredentials(ctx);
  return [
    ...environmentsOf(ctx.config).map((env) => namespaceFor(ctx.config, env)),
    seldonGitCredsSecret(ctx.config, creds),
  ];
}

/** The dot paths of `desired` whose values `live` does not hold (server-added fields ignored). */
function differingPaths(live: KubeObject, desired: KubeObject): string[] {
  const { apiVersion: _a, kind: _k, ...rest } = desired;
  const paths: string[] = [];
  const walk = (l: unknown, d: unknown, path: string) => {
    if (includesDesired(l, d)) return;
    if (typeof d === 'object' && d !== null && !Array.isArray(d) && typeof l === 'object' && l !== null) {
      for (const [k, v] of Object.entries(d))
        walk((l as Record<string, unknown>)[k], v, path ? `${path}.${k}` : k);
    } else paths.push(path);
  };
  walk(live, rest, '');
  return paths;
}

async function reconcile(ctx: StepContext): Promise<string> {
  const findings: DriftFinding[] = [];
  ctx.state.drift = findings;
  // Set back: existing objects only (this identity may not create), by server-side apply (a PATCH).
  let setBack = 0;
  for (const obj of await repairable(ctx)) {
    const ref = refOf(obj);
    if (!(await ctx.kube.get(ref))) {
      findings.push({ ref, what: 'missing' });
      continue;
    }
    const [change] = await ctx.apply([obj], { set: false });
    if (change && change.action !== 'unchanged') setBack++;
  }
  // Compared, never written.
  const compared = await comparedObjects(ctx);
  for (const obj of compared) {
    const ref = refOf(obj);
    const live = await ctx.kube.get(ref);
    if (!live) findings.push({ ref, what: 'missing' });
    else {
      const paths = differingPaths(live, obj);
      if (paths.length > 0) findings.push({ ref, what: paths });
    }
  }
  const removals = await plannedRemovals(ctx);
  ctx.state.driftRemovals = [
    ...removals.delete.map((m) => describeRef(m)),
    ...removals.release.map((ns) => `namespace ${ns}`),
  ];
  return `${setBack} set back, ${compared.length} compared, ${findings.length} to repair with helm upgrade`;
}

const checkId = (ref: ObjectRef) =>
  `drift.${ref.kind.toLowerCase()}.${ref.namespace ? `${ref.namespace}.` : ''}${ref.name}`;

export function driftChecks(findings: readonly DriftFinding[], removals: readonly string[]): Check[] {
  const checks: Check[] = findings.map((f) => ({
    id: checkId(f.ref),
    ready: false,
    required: true,
    message:
      f.what === 'missing'
        ? `${describeRef(f.ref)} does not exist, and a scheduled run creates nothing: ${REPAIR}`
        : `${describeRef(f.ref)} differs from the configuration (${f.what.join(', ')}), and a scheduled run does not write it: ${REPAIR}`,
  }));
  if (removals.length > 0)
    checks.push({
      id: 'drift.removals',
      ready: false,
      required: true,
      message: `left the configuration but not removed (a scheduled run deletes nothing): ${removals.join(', ')}: ${REPAIR}`,
    });
  checks.push({
    id: 'drift.scope',
    ready: true,
    required: false,
    message:
      'scheduled run (--scope drift): environment namespaces and the git-creds Secret set back; Argo CD compared read-only; its Secrets and the Git provider webhooks not compared',
  });
  return checks;
}

async function report(ctx: StepContext): Promise<Check[]> {
  if (!ctx.state.drift) return [];
  try {
    return driftChecks(ctx.state.drift, ctx.state.driftRemovals ?? []);
  } catch (err) {
    return [{ id: 'drift.scope', ready: false, required: true, message: messageOf(err) }];
  }
}

/** Manifest kinds a drift run compares (`comparedInManifest`): no Secrets, CRDs, Namespaces. */
const NOT_COMPARED = new Set(['/Secret', 'apiextensions.k8s.io/CustomResourceDefinition', '/Namespace']);

/**
 * Reads (`get`) of what it compares — nothing in the Argo CD namespace but `get`, no Secret there — and, by
 * name only, `patch` of the environment namespaces and Seldon Deploy's git-creds Secret (the preflight adds
 * the report ConfigMap and the Lease). No `create`, `delete`, `bind`, `escalate` or `impersonate`: an
 * identity that outlives a run cannot grant rights, directly or through Argo CD (README: "Drift repaired
 * between upgrades").
 */
function needs(config: Config, inputs: NeedsInputs): Permission[] {
  if (inputs.run !== 'drift') return [];
  const argo = config.argocd.namespace;
  const perms: Permission[] = [];
  // compared: the install manifest (Secrets, CRDs and Namespaces aside), by name where the chart names them
  for (const { apiVersion, kind, name } of inputs.manifestKinds) {
    const group = groupOf(apiVersion);
    if (NOT_COMPARED.has(`${group}/${kind}`)) continue;
    const named = name && NAMED_KINDS.has(`${group}/${kind}`) ? [name] : undefined;
    const ns = CLUSTER_SCOPED_KINDS.has(kind) ? undefined : argo;
    perms.push({
      verb: 'get',
      group,
      resource: resourceOf(kind),
      namespace: ns,
      ...(named ? { names: named } : {}),
    });
  }
  // compared: the settings (argocd-cmd-params-cm, argocd-cm, argocd-rbac-cm, argocd-server), the AppProject,
  // the Applications, the VirtualService
  perms.push(
    { verb: 'get', group: '', resource: 'configmaps', namespace: argo },
    { verb: 'get', group: 'apps', resource: 'deployments', namespace: argo },
    { verb: 'get', group: 'argoproj.io', resource: 'appprojects', namespace: argo },
    { verb: 'get', group: 'argoproj.io', resource: 'applications', namespace: argo },
  );
  if (inputs.virtualServiceApiVersion)
    perms.push({
      verb: 'get',
      group: groupOf(inputs.virtualServiceApiVersion),
      resource: 'virtualservices',
      namespace: argo,
    });
  // set back: the environment namespaces and Seldon Deploy's git-creds Secret, by name, existing only
  const envs = environmentsOf(config).map((e) => e.namespace);
  perms.push(
    { verb: 'get', group: '', resource: 'namespaces', names: [...envs, config.seldonDeploy.namespace] },
    { verb: 'patch', group: '', resource: 'namespaces', names: envs },
  );
  for (const verb of ['get', 'patch'])
    perms.push({
      verb,
      group: '',
      resource: 'secrets',
      namespace: config.seldonDeploy.namespace,
      names: [config.seldonDeploy.gitCredentialsSecret],
    });
  // the git-creds Secret's contents: the source Secret
  perms.push({
    verb: 'get',
    group: '',
    resource: 'secrets',
    namespace: inputs.credentialsNamespace,
    names: [config.git.credentials.secretRef.name],
  });
  return perms;
}

/** Only what a drift run reads: the Git credentials (for git-creds) and Seldon Deploy's namespace. */
async function inputs(ctx: StepContext): Promise<void> {
  await readGitCredentials(ctx);
  await requireSeldonDeployNamespace(ctx);
}

export const repairDrift: Step = { name: NAME, needs, inputs, reconcile, report };
