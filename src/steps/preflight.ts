/**
 * Step 1: before any write. Reconciled means: the API answers, every permission this run will use (given
 * the config and the mode) is granted, and — in apply — this run holds the Lease, so two runs never overlap.
 * Missing permissions are all listed at once (`verb group/resource in namespace`).
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { environmentsOf } from '../config/environments.ts';
import { webhookSettings } from '../config/webhooks.ts';
import { ApiError, messageOf, PermissionError, StepError } from '../errors.ts';
import { acquireLease, type LeaseHandle, LeaseHeldError, type LeaseObservation } from '../kube/lease.ts';
import { groupOf } from '../kube/objects.ts';
import { sleep } from '../kube/retry.ts';
import type { Kube, ResourceRule, RulesReview } from '../kube/types.ts';
import { ARGO_CRDS, CLUSTER_SCOPED_KINDS } from '../manifests/argocd.ts';
import { ARGOCD_SECRET } from '../manifests/argocd-settings.ts';
import { batchEnvironments, storageSecretSource, WORKFLOW_NAME } from '../manifests/batch.ts';
import { REPOSITORY_SECRET_NAME } from '../manifests/git-credentials.ts';
import { INVENTORY_CONFIGMAP, type Inventory } from '../manifests/inventory.ts';
import type { Check } from '../report/types.ts';
import type { Step, StepContext } from './context.ts';
import {
  argocdManifest,
  credentialsSecretRef,
  plannedRemovals,
  readAdminPassword,
  readCaBundle,
  readGitCredentials,
  readStorageSecret,
  readWebhookToken,
  requireSeldonDeployNamespace,
  unencryptedPrivateKey,
  virtualServicePlan,
} from './inputs.ts';

const NAME = 'preflight';
export const LEASE_NAME = 'sd-gitops-bootstrap';

export interface Permission {
  verb: string;
  group: string;
  resource: string;
  /** Absent: cluster-wide. */
  namespace?: string | undefined;
  /**
   * Only these objects (the chart grants them by RBAC `resourceNames`); absent: any name. Reviewed name
   * by name; not part of describePermission (a missing one is reported as `… for <name>`).
   */
  names?: string[];
  /** Also satisfied by any of these (e.g. RBAC `escalate` or full access). */
  or?: Permission[];
}

export function describePermission(p: Permission): string {
  const one = (q: Permission) =>
    `${q.verb} ${q.group ? `${q.group}/` : ''}${q.resource}${q.namespace ? ` in ${q.namespace}` : ' (cluster-wide)'}`;
  return [p, ...(p.or ?? [])].map(one).join(' or ');
}

/** Lower-case plural resource of a kind, for the kinds an install manifest has. */
export function resourceOf(kind: string): string {
  const lower = kind.toLowerCase();
  if (lower.endsWith('y') && !/[aeiou]y$/.test(lower)) return `${lower.slice(0, -1)}ies`;
  if (/(s|x|ch|sh)$/.test(lower)) return `${lower}es`;
  return `${lower}s`;
}

const SSA = ['get', 'create', 'patch'];
/** Manifest kinds (`group/kind`) applied, read and escalated by name. */
const NAMED_KINDS = new Set([
  '/Secret',
  'apiextensions.k8s.io/CustomResourceDefinition',
  'rbac.authorization.k8s.io/ClusterRole',
  'rbac.authorization.k8s.io/ClusterRoleBinding',
  'rbac.authorization.k8s.io/Role',
  'rbac.authorization.k8s.io/RoleBinding',
]);
const FULL_ACCESS = (namespace?: string): Permission => ({ verb: '*', group: '*', resource: '*', namespace });

/** Server-side apply (which creates when missing) of a kind in a namespace. */
function applyPerms(group: string, resource: string, namespace?: string): Permission[] {
  return SSA.map((verb) => ({ verb, group, resource, namespace }));
}

/**
 * Server-side apply of named objects: get and patch by name; create cannot be limited to names (RBAC
 * authorizes a create before the object has one), so it stays any name.
 */
function applyNamed(
  group: string,
  resource: string,
  namespace: string | undefined,
  names: string[],
): Permission[] {
  return [
    { verb: 'get', group, resource, namespace, names },
    { verb: 'create', group, resource, namespace },
    { verb: 'patch', group, resource, namespace, names },
  ];
}

function applyNamespaces(names: string[]): Permission[] {
  return applyNamed('', 'namespaces', undefined, names);
}

export interface PermissionInputs {
  mode: 'apply' | 'plan';
  runNamespace: string;
  /** Kinds of the install manifest (empty with `skip`). */
  manifestKinds: { apiVersion: string; kind: string; name?: string; roleRef?: string }[];
  virtualServiceApiVersion: string | undefined;
  adminPasswordNamespace: string;
  /** The admin password Secret must be created (generated). */
  createAdminPasswordSecret: boolean;
  credentialsNamespace: string;
  /**
   * What this run removes (from the inventory): members to delete and environment namespaces to give back.
   * Absent: nothing (e.g. a first install, or the chart's rendering without a cluster).
   */
  removals?: {
    delete: { apiVersion: string; kind: string; namespace?: string; name: string }[];
    release: string[];
  };
}

/** Every permission the run uses, deduplicated. Pure: the inputs say what the config implies. */
export function requiredPermissions(config: StepContext['config'], inputs: PermissionInputs): Permission[] {
  const argo = config.argocd.namespace;
  const perms: Permission[] = [];
  // install-argocd
  for (const { apiVersion, kind, name, roleRef } of inputs.manifestKinds) {
    const group = groupOf(apiVersion);
    const resource = resourceOf(kind);
    const ns = CLUSTER_SCOPED_KINDS.has(kind) ? undefined : argo;
    // By name where a leak or an escalation would hurt (the chart names those of the bundled manifests).
    const named = name && NAMED_KINDS.has(`${group}/${kind}`) ? [name] : undefined;
    perms.push(...(named ? applyNamed(group, resource, ns, named) : applyPerms(group, resource, ns)));
    // The apply reads the objects of a kind in a namespace with one LIST (src/kube/apply.ts).
    if (!named && ns) perms.push({ verb: 'list', group, resource, namespace: ns });
    // RBAC escalation prevention: granting what one does not hold needs `escalate`/`bind` (or holding it all).
    if (kind === 'ClusterRole' || kind === 'Role') {
      perms.push({ verb: 'escalate', group, resource, namespace: ns, names: named, or: [FULL_ACCESS(ns)] });
    }
    if (kind === 'ClusterRoleBinding' || kind === 'RoleBinding') {
      const roles = kind === 'ClusterRoleBinding' ? 'clusterroles' : 'roles';
      const names = roleRef ? [roleRef] : undefined;
      perms.push({ verb: 'bind', group, resource: roles, namespace: ns, names, or: [FULL_ACCESS(ns)] });
    }
  }
  if (inputs.manifestKinds.length > 0) perms.push(...applyNamespaces([argo]));
  // configure-argocd (also merged into the install)
  // Secrets only by name: argocd-secret here, the repository Secret (git-credentials).
  perms.push(...applyNamed('', 'secrets', argo, [ARGOCD_SECRET, REPOSITORY_SECRET_NAME]));
  // configure-argocd: the SSO client secret's Secret, labelled for Argo CD (only the label)
  if (config.argocd.sso.enabled)
    perms.push(...applyNamed('', 'secrets', argo, [config.argocd.sso.clientSecret.secretRef.name]));
  perms.push(...applyPerms('', 'configmaps', argo), {
    verb: 'list',
    group: '',
    resource: 'configmaps',
    namespace: argo,
  });
  perms.push(...applyPerms('apps', 'deployments', argo));
  const pwName = config.argocd.adminPassword.secretRef.name;
  perms.push({
    verb: 'get',
    group: '',
    resource: 'secrets',
    namespace: inputs.adminPasswordNamespace,
    names: [pwName],
  });
  if (inputs.createAdminPasswordSecret)
    perms.push(...applyNamed('', 'secrets', inputs.adminPasswordNamespace, [pwName]));
  // expose-argocd
  if (inputs.virtualServiceApiVersion) {
    perms.push(...applyPerms(groupOf(inputs.virtualServiceApiVersion), 'virtualservices', argo));
  }
  // wait-rollout (reads)
  for (const resource of ['deployments', 'statefulsets']) {
    perms.push(
      { verb: 'get', group: 'apps', resource, namespace: argo },
      { verb: 'list', group: 'apps', resource, namespace: argo },
    );
  }
  // git-credentials
  perms.push({
    verb: 'get',
    group: '',
    resource: 'secrets',
    namespace: inputs.credentialsNamespace,
    names: [config.git.credentials.secretRef.name],
  });
  // git.caBundle: its Secret or ConfigMap, by name (argocd-tls-certs-cm is among the configmaps above).
  const ca = config.git.caBundle;
  const caRef = ca?.secretRef ?? ca?.configMapRef;
  if (ca && caRef) {
    perms.push({
      verb: 'get',
      group: '',
      resource: ca.secretRef ? 'secrets' : 'configmaps',
      namespace: caRef.namespace ?? inputs.runNamespace,
      names: [caRef.name],
    });
  }
  perms.push({ verb: 'get', group: '', resource: 'namespaces', names: [config.seldonDeploy.namespace] });
  perms.push(
    ...applyNamed('', 'secrets', config.seldonDeploy.namespace, [config.seldonDeploy.gitCredentialsSecret]),
  );
  // setup-environments
  perms.push(...applyNamespaces(environmentsOf(config).map((e) => e.namespace)));
  perms.push(
    ...applyPerms('argoproj.io', 'appprojects', argo),
    ...applyPerms('argoproj.io', 'applications', argo),
    // One LIST for every Application (the apply and the report).
    { verb: 'list', group: 'argoproj.io', resource: 'applications', namespace: argo },
  );
  perms.push({
    verb: 'get',
    group: 'apiextensions.k8s.io',
    resource: 'customresourcedefinitions',
    names: ARGO_CRDS,
  });
  // setup-batch: in each batch environment the `workflow` Role (escalate: it grants what this identity does
  // not hold; bind: the RoleBinding binds it), ServiceAccount and RoleBinding, and the storage Secret's copy,
  // all by name; the source Secret read by name.
  const storage = storageSecretSource(config, inputs.runNamespace);
  const batchEnvs = batchEnvironments(config);
  for (const env of batchEnvs) {
    const ns = env.namespace;
    const rbac = 'rbac.authorization.k8s.io';
    const names = [WORKFLOW_NAME];
    perms.push(
      ...applyNamed(rbac, 'roles', ns, names),
      { verb: 'escalate', group: rbac, resource: 'roles', namespace: ns, names, or: [FULL_ACCESS(ns)] },
      { verb: 'bind', group: rbac, resource: 'roles', namespace: ns, names, or: [FULL_ACCESS(ns)] },
      ...applyNamed(rbac, 'rolebindings', ns, names),
      ...applyNamed('', 'serviceaccounts', ns, names),
      ...(storage ? applyNamed('', 'secrets', ns, [storage.name]) : []),
    );
  }
  if (storage && batchEnvs.length > 0)
    perms.push({
      verb: 'get',
      group: '',
      resource: 'secrets',
      namespace: storage.namespace,
      names: [storage.name],
    });
  // the inventory (read in every mode; written in apply with the report ConfigMap below)
  perms.push({
    verb: 'get',
    group: '',
    resource: 'configmaps',
    namespace: inputs.runNamespace,
    names: [INVENTORY_CONFIGMAP],
  });
  // removals: by name, only what the inventory says this run removes
  for (const d of inputs.removals?.delete ?? []) {
    const group = groupOf(d.apiVersion);
    const resource = resourceOf(d.kind);
    const ns = CLUSTER_SCOPED_KINDS.has(d.kind) ? undefined : d.namespace;
    for (const verb of ['get', 'delete'])
      perms.push({ verb, group, resource, namespace: ns, names: [d.name] });
  }
  if (inputs.removals?.release.length) {
    perms.push(
      { verb: 'get', group: '', resource: 'namespaces', names: inputs.removals.release },
      { verb: 'patch', group: '', resource: 'namespaces', names: inputs.removals.release },
    );
  }
  // register-webhooks: the token Secret (read), the bootstrap's webhook Secret (applied, also in plan: a
  // dry-run), argocd-secret (above)
  const hooks = webhookSettings(config, inputs.runNamespace);
  if (hooks) {
    perms.push({
      verb: 'get',
      group: '',
      resource: 'secrets',
      namespace: hooks.token.namespace,
      names: [hooks.token.name],
    });
    perms.push(...applyNamed('', 'secrets', inputs.runNamespace, [hooks.secretName]));
  }
  if (inputs.mode === 'apply') {
    // the Lease, and the report ConfigMap
    for (const verb of ['get', 'create', 'update']) {
      perms.push({ verb, group: 'coordination.k8s.io', resource: 'leases', namespace: inputs.runNamespace });
    }
    perms.push(...applyPerms('', 'configmaps', inputs.runNamespace));
  }
  return dedupe(perms);
}

export interface DriftPermissionInputs {
  runNamespace: string;
  /** Kinds and names of the install manifest (empty with `skip`). */
  manifestKinds: { apiVersion: string; kind: string; name?: string }[];
  virtualServiceApiVersion: string | undefined;
  credentialsNamespace: string;
}

/** Manifest kinds a drift run compares (repair-drift.ts `comparedInManifest`): no Secrets, CRDs, Namespaces. */
const NOT_COMPARED = new Set(['/Secret', 'apiextensions.k8s.io/CustomResourceDefinition', '/Namespace']);

/**
 * Every permission of `apply --scope drift` (the chart's scheduled CronJob): reads (`get`) of what it compares
 * — nothing in the Argo CD namespace but `get`, no Secret there — and, by name only, `patch` of the
 * environment namespaces, Seldon Deploy's git-creds Secret, the report ConfigMap and `update` of the Lease.
 * No `create`, `delete`, `bind`, `escalate` or `impersonate`: an identity that outlives a run cannot grant
 * rights, directly or through Argo CD (README: "Drift repaired between upgrades").
 */
export function driftPermissions(config: StepContext['config'], inputs: DriftPermissionInputs): Permission[] {
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
  // the run's own objects, which the hook run created: the inventory (read), the report and the Lease
  perms.push(
    {
      verb: 'get',
      group: '',
      resource: 'configmaps',
      namespace: inputs.runNamespace,
      names: [INVENTORY_CONFIGMAP, config.report.configMap],
    },
    {
      verb: 'patch',
      group: '',
      resource: 'configmaps',
      namespace: inputs.runNamespace,
      names: [config.report.configMap],
    },
  );
  for (const verb of ['get', 'update'])
    perms.push({
      verb,
      group: 'coordination.k8s.io',
      resource: 'leases',
      namespace: inputs.runNamespace,
      names: [LEASE_NAME],
    });
  return dedupe(perms);
}

/** One permission per description; names united (any name wins). */
function dedupe(perms: Permission[]): Permission[] {
  const byKey = new Map<string, Permission>();
  for (const p of perms) {
    const key = describePermission(p);
    const seen = byKey.get(key);
    if (!seen) byKey.set(key, p.names ? { ...p, names: [...new Set(p.names)] } : p);
    else if (seen.names)
      byKey.set(key, p.names ? { ...seen, names: [...new Set([...seen.names, ...p.names])] } : p);
  }
  return [...byKey.values()];
}

/** What a SelfSubjectRulesReview says is granted, per namespace ('' for cluster-wide rules only). */
type Granted = (q: Permission, name: string | undefined) => boolean;

const listed = (list: string[] | undefined, value: string) =>
  list !== undefined && (list.includes('*') || list.includes(value));

export function ruleGrants(rule: ResourceRule, q: Permission, name: string | undefined): boolean {
  if (!listed(rule.verbs, q.verb) || !listed(rule.apiGroups, q.group) || !listed(rule.resources, q.resource))
    return false;
  if (rule.resourceNames && rule.resourceNames.length > 0) {
    return name !== undefined && rule.resourceNames.includes(name);
  }
  return true;
}

/**
 * The rules of the run's identity, fetched once: one SelfSubjectRulesReview for the cluster-wide rules (in a
 * namespace that does not exist, so no RoleBinding adds to them) and one per namespace the permissions name,
 * in parallel — a constant number of requests whatever the number of environments. A permission they do
 * not grant (or an incomplete answer) is still asked with a SelfSubjectAccessReview: rules only ever say yes.
 */
async function rulesOf(kube: Kube, perms: Permission[]): Promise<Granted | undefined> {
  if (!kube.rules) return undefined;
  const namespaces = [
    ...new Set(perms.flatMap((p) => [p, ...(p.or ?? [])]).flatMap((q) => (q.namespace ? [q.namespace] : []))),
  ];
  const probe = `sd-gitops-bootstrap-no-such-namespace-${randomBytes(4).toString('hex')}`;
  let reviews: RulesReview[];
  try {
    reviews = await Promise.all([probe, ...namespaces].map((ns) => kube.rules!(ns)));
  } catch {
    return undefined; // e.g. an authorizer that does not answer rules reviews: ask one by one
  }
  const cluster = reviews[0]!.rules;
  const byNamespace = new Map(namespaces.map((ns, i) => [ns, reviews[i + 1]!.rules]));
  return (q, name) => {
    const rules = q.namespace ? (byNamespace.get(q.namespace) ?? cluster) : cluster;
    return rules.some((r) => ruleGrants(r, q, name));
  };
}

async function allowed(kube: Kube, p: Permission, name?: string, granted?: Granted): Promise<boolean> {
  if (granted && [p, ...(p.or ?? [])].some((q) => granted(q, name))) return true;
  for (const q of [p, ...(p.or ?? [])]) {
    const attrs = {
      verb: q.verb,
      group: q.group,
      resource: q.resource,
      ...(q.namespace ? { namespace: q.namespace } : {}),
      ...(name ? { name } : {}),
    };
    if (await kube.can(attrs)) return true;
  }
  return false;
}

/** '' when granted; else the description, with the names refused when the permission is by name. */
async function review(kube: Kube, p: Permission, granted?: Granted): Promise<string> {
  if (!p.names) return (await allowed(kube, p, undefined, granted)) ? '' : describePermission(p);
  const refused: string[] = [];
  for (const name of p.names) if (!(await allowed(kube, p, name, granted))) refused.push(name);
  return refused.length ? `${describePermission(p)} for ${refused.join(', ')}` : '';
}

/**
 * Reviews every permission: locally against the identity's rules where the client can fetch them
 * (`rulesOf`), otherwise — and for whatever they do not grant — by SelfSubjectAccessReview, a few at a time.
 * Returns the missing ones.
 */
export async function missingPermissions(
  kube: Kube,
  perms: Permission[],
  concurrency = 8,
): Promise<string[]> {
  const granted = await rulesOf(kube, perms);
  const results: string[] = new Array(perms.length);
  let next = 0;
  const worker = async () => {
    while (next < perms.length) {
      const i = next++;
      results[i] = await review(kube, perms[i]!, granted);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, perms.length) }, worker));
  return results.filter((r) => r !== '');
}

/** The install manifest's objects as preflight reviews them (none with `install.source: skip`). */
async function manifestKindsOf(ctx: StepContext): Promise<PermissionInputs['manifestKinds']> {
  if (ctx.config.argocd.install.source === 'skip') return [];
  return (await argocdManifest(ctx)).objects.map((o) => ({
    apiVersion: o.apiVersion,
    kind: o.kind,
    name: o.metadata.name,
    roleRef: (o as { roleRef?: { name?: string } }).roleRef?.name,
  }));
}

async function gatherInputs(ctx: StepContext): Promise<PermissionInputs> {
  const { config } = ctx;
  const manifestKinds = await manifestKindsOf(ctx);
  const vs = await virtualServicePlan(ctx);
  const pw = config.argocd.adminPassword;
  const adminNs = pw.secretRef.namespace ?? ctx.runNamespace;
  const adminSecret = await ctx.kube
    .get({ apiVersion: 'v1', kind: 'Secret', namespace: adminNs, name: pw.secretRef.name })
    .catch(() => null);
  const removals = await plannedRemovals(ctx);
  return {
    mode: ctx.mode === 'apply' ? 'apply' : 'plan',
    runNamespace: ctx.runNamespace,
    ...(removals.delete.length + removals.release.length > 0 ? { removals } : {}),
    manifestKinds,
    virtualServiceApiVersion: vs.create ? vs.apiVersion : undefined,
    adminPasswordNamespace: adminNs,
    createAdminPasswordSecret: adminSecret === null && pw.generate,
    credentialsNamespace: credentialsSecretRef(ctx).namespace,
  };
}

async function gatherDriftInputs(ctx: StepContext): Promise<DriftPermissionInputs> {
  const manifestKinds = await manifestKindsOf(ctx);
  const vs = await virtualServicePlan(ctx);
  return {
    runNamespace: ctx.runNamespace,
    manifestKinds,
    virtualServiceApiVersion: vs.create ? vs.apiVersion : undefined,
    credentialsNamespace: credentialsSecretRef(ctx).namespace,
  };
}

/**
 * What `uninstall` uses: reading and deleting each inventory member by name (patching an Application for
 * the resources-finalizer), giving back the environment namespaces (and Argo CD's, when it existed before),
 * the inventory, the report ConfigMap and the Lease in the run's namespace.
 */
export function uninstallPermissions(
  config: StepContext['config'],
  runNamespace: string,
  inventory: Inventory,
): Permission[] {
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
  for (const verb of ['get', 'create', 'patch', 'delete'])
    perms.push({ verb, group: '', resource: 'configmaps', namespace: runNamespace });
  for (const verb of ['get', 'create', 'update', 'delete'])
    perms.push({ verb, group: 'coordination.k8s.io', resource: 'leases', namespace: runNamespace });
  return dedupe(perms);
}

async function reconcile(ctx: StepContext): Promise<string> {
  try {
    await ctx.kube.can({ verb: 'get', group: '', resource: 'namespaces' });
  } catch (err) {
    const why = err instanceof ApiError && err.status === undefined ? 'cannot reach' : 'cannot use';
    throw new StepError(NAME, `${why} the Kubernetes API at ${ctx.kube.server}: ${messageOf(err)}`, {
      cause: err,
    });
  }
  const perms =
    ctx.mode === 'uninstall'
      ? uninstallPermissions(ctx.config, ctx.runNamespace, await ctx.inventory.previous())
      : ctx.scope === 'drift'
        ? driftPermissions(ctx.config, await gatherDriftInputs(ctx))
        : requiredPermissions(ctx.config, await gatherInputs(ctx));
  const missing = await missingPermissions(ctx.kube, perms);
  ctx.state.permissions = { reviewed: perms.length, missing };
  if (missing.length > 0) throw new PermissionError(missing);
  ctx.log.debug(`all ${perms.length} permissions granted`);

  if (ctx.scope === 'drift') {
    // Only what a drift run reads: the Git credentials (for git-creds) and Seldon Deploy's namespace.
    await readGitCredentials(ctx);
    await requireSeldonDeployNamespace(ctx);
  } else if (ctx.mode !== 'uninstall') {
    // Inputs the later steps need, read now so a missing Secret stops the run before anything is written.
    // Every input is checked here, against the cluster and the files, so bad input stops the run with
    // nothing written: the Secrets and their keys, the SSH key (decrypted with its passphrase), the CA bundle, the known
    // hosts of the repository's host, Seldon Deploy's namespace (the manifest was read and verified above).
    await readAdminPassword(ctx);
    await readGitCredentials(ctx);
    await unencryptedPrivateKey(ctx);
    await readCaBundle(ctx);
    await requireSeldonDeployNamespace(ctx);
    if (webhookSettings(ctx.config, ctx.runNamespace)) await readWebhookToken(ctx);
    await readStorageSecret(ctx); // environments.batch.storageSecret (undefined when unset or no batch)
  }

  const granted = `${perms.length} permissions granted`;
  if (ctx.mode !== 'apply' && ctx.mode !== 'uninstall') return granted;
  const holder = `${process.env.HOSTNAME || hostname()}/${process.pid}`;
  try {
    const lease = await takeLease(ctx, holder);
    ctx.state.lease = lease;
    // Every write from here on (each attempt, whichever step or helper makes it) first asks the Lease:
    // a run that lost it stops before its next write.
    ctx.kube.useWriteGuard?.((req) => lease.beforeWrite(req));
    const before = ctx.state.lease.takenOverFrom;
    if (before)
      ctx.log.warn(
        `took over Lease ${ctx.runNamespace}/${LEASE_NAME} from ${before.holder}, which never released it (expired ${before.expiredAt.toISOString()}): that run was interrupted, this one converges what it left`,
      );
  } catch (err) {
    if (err instanceof LeaseHeldError) throw err;
    throw new StepError(NAME, `cannot take Lease ${ctx.runNamespace}/${LEASE_NAME}: ${messageOf(err)}`, {
      cause: err,
    });
  }
  return `${granted}, Lease ${ctx.runNamespace}/${LEASE_NAME} held`;
}

/**
 * How long the Lease lasts without renewal (renewed every third of it while the run lives): a run killed
 * without releasing it (SIGKILL, a lost node) blocks the next one for this long after the next one first
 * sees it (expiry is judged by observation on the waiting run's own clock, never by the holder's).
 */
export const LEASE_TTL_SECONDS = 60;
/** A run that would have less than this left after waiting for the Lease does not wait. */
const MIN_RUN_AFTER_WAIT_MS = 60_000;
const LEASE_POLL_MS = 5_000;

/**
 * The Lease, waited for while another run holds it — as long as it runs out (or is released) early
 * enough to leave this run a minute of its own deadline; otherwise LeaseHeldError at once. The holder may
 * be a run that is still working (it releases the Lease when done) or one that was killed (its Lease
 * then expires, at most LEASE_TTL_SECONDS after its last renewal, and is taken over).
 */
async function takeLease(ctx: StepContext, holder: string): Promise<LeaseHandle> {
  let said = '';
  // What this run has seen of another run's Lease, across attempts: it expires after a full TTL seen
  // unchanged on this pod's monotonic clock, whatever the holder's clock says.
  const observation: LeaseObservation = {};
  for (;;) {
    try {
      return await acquireLease(ctx.kube, {
        namespace: ctx.runNamespace,
        name: LEASE_NAME,
        holder,
        ttlSeconds: LEASE_TTL_SECONDS,
        observation,
        onLost: (reason) => ctx.log.error(`✗ lost the Lease: ${reason}`),
      });
    } catch (err) {
      if (!(err instanceof LeaseHeldError) || err.until === undefined) throw err;
      const left = err.until.getTime() - ctx.now().getTime();
      if (left > ctx.remainingMs() - MIN_RUN_AFTER_WAIT_MS) throw err;
      const line = `waiting for Lease ${ctx.runNamespace}/${LEASE_NAME}: ${err.holder} holds it until ${err.until.toISOString()} (a run that ends releases it earlier)`;
      if (line !== said) ctx.log.warn(line);
      said = line;
      await sleep(Math.min(LEASE_POLL_MS, Math.max(200, left + 200)), ctx.signal);
    }
  }
}

async function report(ctx: StepContext): Promise<Check[]> {
  const checks: Check[] = [];
  const perms = ctx.state.permissions;
  if (perms) {
    checks.push(
      perms.missing.length === 0
        ? {
            id: 'preflight.permissions',
            ready: true,
            required: true,
            message: `all ${perms.reviewed} permissions granted`,
          }
        : {
            id: 'preflight.permissions',
            ready: false,
            required: true,
            message: `missing ${perms.missing.length} of ${perms.reviewed} permissions: ${perms.missing.join('; ')}`,
          },
    );
  }
  if ((ctx.mode === 'apply' || ctx.mode === 'uninstall') && perms && perms.missing.length === 0) {
    const lease = ctx.state.lease;
    checks.push(
      lease
        ? {
            id: 'preflight.lease',
            ready: true,
            required: true,
            message:
              `held Lease ${ctx.runNamespace}/${LEASE_NAME} as ${lease.holder}` +
              (lease.takenOverFrom
                ? `, taken over from ${lease.takenOverFrom.holder} (an interrupted run; its Lease expired ${lease.takenOverFrom.expiredAt.toISOString()})`
                : ''),
          }
        : {
            id: 'preflight.lease',
            ready: false,
            required: true,
            message: `could not take Lease ${ctx.runNamespace}/${LEASE_NAME}`,
          },
    );
  }
  return checks;
}

export const preflight: Step = { name: NAME, reconcile, report };
