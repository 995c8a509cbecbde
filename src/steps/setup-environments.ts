/**
 * Step 9: the GitOps environments. Reconciled means: each namespace exists with the seed's labels and
 * `git-repo` annotation, the AppProject covers all of them, and each has its Application; with
 * `waitForSync`, each Application is also Synced and Healthy (waited for, bounded by `syncTimeout`, in apply).
 */

import type { Config } from '../config/types.ts';
import { messageOf } from '../errors.ts';
import { removedEnvironments } from '../inputs/inputs.ts';
import { inParallel } from '../kube/apply.ts';
import { describeRef, includesDesired } from '../kube/objects.ts';
import {
  applyNamedPermissions,
  applyPermissions,
  type Permission,
  removalPermissions,
} from '../kube/rbac.ts';
import { applicationReady, applicationStatus, seldonFailure, seldonResourcesOf } from '../kube/status.ts';
import type { KubeObject } from '../kube/types.ts';
import { formatDuration, waitFor } from '../kube/wait.ts';
import {
  application,
  describeSyncPolicy,
  RESOURCES_FINALIZER,
  syncPolicyOf,
} from '../manifests/application.ts';
import { appProject, appProjectKeepingOthers } from '../manifests/appproject.ts';
import { ARGO_CRDS, CLUSTER_SCOPED_KINDS } from '../manifests/argocd.ts';
import { type Environment, environmentsOf } from '../manifests/common.ts';
import { namespaceFor } from '../manifests/namespace.ts';
import type { Check } from '../report/types.ts';
import type { NeedsInputs, Step, StepContext } from './context.ts';

const NAME = 'setup-environments';

export async function desiredEnvironmentObjects(ctx: StepContext): Promise<KubeObject[]> {
  const envs = environmentsOf(ctx.config);
  const project = appProject(ctx.config);
  const live = await ctx.kube.get({
    apiVersion: project.apiVersion,
    kind: project.kind,
    namespace: project.metadata.namespace,
    name: project.metadata.name,
  });
  return [
    ...envs.map((env) => namespaceFor(ctx.config, env)),
    appProjectKeepingOthers(ctx.config, live, (await removedEnvironments(ctx)).namespaces),
    ...envs.map((env) => application(ctx.config, env)),
  ];
}

/**
 * Removes what left the config: its Applications go first (with Argo CD's resources-finalizer when
 * `deleteRemovedResources`, so Argo CD deletes what they deployed; otherwise the workloads stay), then the
 * AppProject (re-applied by the caller) loses their destinations, and each namespace is given back: an apply
 * with no fields releases every label and annotation this program set, and nothing else.
 */
async function removeEnvironments(ctx: StepContext): Promise<string[]> {
  const { members, namespaces } = await removedEnvironments(ctx);
  const { deleteRemovedResources } = ctx.config.environments;
  const removed: string[] = [];
  const apps = members.filter((m) => m.kind === 'Application');
  for (const m of apps) {
    const note = deleteRemovedResources
      ? 'no longer an environment; Argo CD deletes what it deployed (environments.deleteRemovedResources)'
      : 'no longer an environment; what it deployed stays';
    if (await ctx.remove(m, { note, ...(deleteRemovedResources ? { finalizer: RESOURCES_FINALIZER } : {}) }))
      removed.push(describeRef(m));
  }
  return [...removed, ...namespaces.map((ns) => `namespace ${ns} released`)];
}

async function releaseNamespaces(ctx: StepContext): Promise<void> {
  const { namespaces } = await removedEnvironments(ctx);
  const exist = (
    await Promise.all(
      namespaces.map(async (name) =>
        (await ctx.kube.get({ apiVersion: 'v1', kind: 'Namespace', name })) ? [name] : [],
      ),
    )
  ).flat();
  await ctx.apply(
    exist.map((name) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } })),
    { set: false, removal: 'no longer an environment: GitOps labels and git-repo annotation removed' },
  );
}

async function pruneEnvironmentMembers(ctx: StepContext): Promise<void> {
  // An AppProject renamed away: after the Applications, never before.
  const { members } = await removedEnvironments(ctx);
  for (const m of members.filter((x) => x.kind !== 'Application'))
    await ctx.remove(m, { note: "no longer the environments' project" });
}

const appRef = (ctx: StepContext, env: Environment) => ({
  apiVersion: 'argoproj.io/v1alpha1',
  kind: 'Application',
  namespace: ctx.config.argocd.namespace,
  name: env.applicationName,
});

async function reconcile(ctx: StepContext): Promise<string> {
  const removed = await removeEnvironments(ctx);
  const desired = await desiredEnvironmentObjects(ctx);
  const envs = environmentsOf(ctx.config);
  await ctx.apply(
    desired.filter((o) => o.kind === 'Namespace'),
    { set: false },
  );
  // Plan and the report show each Application's sync policy next to its change.
  const policyOf = new Map(
    envs.map((e) => [e.applicationName, describeSyncPolicy(syncPolicyOf(ctx.config, e))] as const),
  );
  await ctx.apply(
    desired.filter((o) => o.kind !== 'Namespace'),
    {
      set: 'environments',
      noteFor: (c) => (c.ref.kind === 'Application' ? policyOf.get(c.ref.name) : undefined),
    },
  );
  await pruneEnvironmentMembers(ctx);
  await releaseNamespaces(ctx);
  if (ctx.mode === 'apply')
    await ctx.inventory.setEnvironments(
      envs.map((e) => ({ namespace: e.namespace, application: e.applicationName })),
    );
  const { waitForSync, syncTimeout } = ctx.config.environments;
  const summary = [
    `${envs.length} environments (${envs.map((e) => e.namespace).join(', ')})`,
    ...(removed.length > 0 ? [`removed: ${removed.join(', ')}`] : []),
  ].join('; ');
  if (!waitForSync || ctx.mode !== 'apply') return summary;
  ctx.log.info(
    `waiting for ${envs.length} Applications to be Synced and Healthy (timeout ${formatDuration(syncTimeout)})…`,
  );
  const deadline = Date.now() + Math.min(syncTimeout, ctx.remainingMs());
  await Promise.all(
    envs.map(async (env) => {
      const started = Date.now();
      try {
        await waitFor(
          `Application ${env.applicationName} to be Synced and Healthy`,
          async () => {
            const app = await ctx.kube.get(appRef(ctx, env));
            if (!app) return { done: false, state: 'not found' };
            const s = applicationStatus(app);
            return {
              done: applicationReady(s),
              state: `${s.sync}, ${s.health}: ${s.message}`,
            };
          },
          {
            timeoutMs: Math.max(0, deadline - Date.now()),
            intervalMs: ctx.deps.pollIntervalMs ?? 3000,
            signal: ctx.signal,
          },
        );
        ctx.log.info(
          `✔ Application ${env.applicationName} Synced and Healthy (${formatDuration(Date.now() - started)})`,
        );
      } catch (err) {
        // Not fatal here: the report's `env.application.<ns>.sync` check carries it.
        if (ctx.signal.aborted) throw err;
        ctx.log.warn(`✗ ${messageOf(err)}`);
      }
    }),
  );
  return summary;
}

type Obj = KubeObject & { spec?: Record<string, unknown> };

async function report(ctx: StepContext): Promise<Check[]> {
  const envs = environmentsOf(ctx.config);
  const checks: Check[] = [];
  // One GET per namespace (RBAC grants them by name only), a few at a time.
  checks.push(...(await inParallel(envs, (env) => namespaceCheck(ctx, env))));
  checks.push(await projectCheck(ctx));
  const apps = await listApplications(ctx, envs);
  for (const env of envs) checks.push(...(await applicationChecks(ctx, env, apps)));
  return checks;
}

/**
 * Every Application of Argo CD's namespace in one LIST when there are several environments, by name; undefined
 * (each is then read alone) for one, or when the LIST fails.
 */
async function listApplications(
  ctx: StepContext,
  envs: Environment[],
): Promise<Map<string, Obj> | undefined> {
  if (envs.length < 2) return undefined;
  try {
    const items = await ctx.kube.list<Obj>('argoproj.io/v1alpha1', 'Application', {
      namespace: ctx.config.argocd.namespace,
    });
    return new Map(items.map((a) => [a.metadata.name, a]));
  } catch {
    return undefined;
  }
}

async function guarded(
  id: string,
  required: boolean,
  fn: () => Promise<Omit<Check, 'id' | 'required'>>,
): Promise<Check> {
  try {
    return { id, required, ...(await fn()) };
  } catch (err) {
    return { id, required, ready: false, message: messageOf(err) };
  }
}

function namespaceCheck(ctx: StepContext, env: Environment): Promise<Check> {
  return guarded(`env.namespace.${env.namespace}`, true, async () => {
    const live = await ctx.kube.get({ apiVersion: 'v1', kind: 'Namespace', name: env.namespace });
    if (!live) return { ready: false, message: `namespace ${env.namespace} does not exist` };
    const desired = namespaceFor(ctx.config, env).metadata;
    const wrong = [
      ...Object.entries(desired.labels ?? {})
        .filter(([k, v]) => live.metadata.labels?.[k] !== v)
        .map(([k, v]) => `label ${k}=${v}`),
      ...Object.entries(desired.annotations ?? {})
        .filter(([k, v]) => live.metadata.annotations?.[k] !== v)
        .map(([k, v]) => `annotation ${k}=${v}`),
    ];
    if (wrong.length > 0)
      return { ready: false, message: `namespace ${env.namespace} lacks ${wrong.join(', ')}` };
    const labels = Object.entries(desired.labels ?? {})
      .map(([k, v]) => `${k}=${v}`)
      .join(', ');
    return { ready: true, message: `namespace ${env.namespace}: ${labels}; git-repo annotated` };
  });
}

function projectCheck(ctx: StepContext): Promise<Check> {
  return guarded('env.project', true, async () => {
    const desired = appProject(ctx.config) as Obj;
    const where = `AppProject ${ctx.config.argocd.namespace}/${desired.metadata.name}`;
    const live = await ctx.kube.get<Obj>({
      apiVersion: desired.apiVersion,
      kind: desired.kind,
      namespace: desired.metadata.namespace,
      name: desired.metadata.name,
    });
    if (!live) return { ready: false, message: `${where} does not exist` };
    const spec = live.spec ?? {};
    const repos = (spec.sourceRepos as string[] | undefined) ?? [];
    if (!repos.includes(ctx.config.git.repoUrl) && !repos.includes('*')) {
      return { ready: false, message: `${where} does not allow source ${ctx.config.git.repoUrl}` };
    }
    const destinations =
      (spec.destinations as { namespace?: string; server?: string; name?: string }[] | undefined) ?? [];
    const uncovered = environmentsOf(ctx.config)
      .map((e) => e.namespace)
      .filter(
        (ns) =>
          !destinations.some(
            (d) =>
              (d.namespace === ns || d.namespace === '*') &&
              (d.server === 'https://kubernetes.default.svc' || d.server === '*' || d.name === 'in-cluster'),
          ),
      );
    if (uncovered.length > 0)
      return { ready: false, message: `${where} has no destination for ${uncovered.join(', ')}` };
    return {
      ready: true,
      message: `${where}: source ${ctx.config.git.repoUrl}, ${destinations.length} destinations`,
    };
  });
}

async function applicationChecks(
  ctx: StepContext,
  env: Environment,
  listed?: Map<string, Obj>,
): Promise<Check[]> {
  const id = `env.application.${env.namespace}`;
  const where = `Application ${ctx.config.argocd.namespace}/${env.applicationName}`;
  const syncRequired = ctx.config.environments.waitForSync;
  let live: Obj | null;
  try {
    live = listed ? (listed.get(env.applicationName) ?? null) : await ctx.kube.get<Obj>(appRef(ctx, env));
  } catch (err) {
    const message = messageOf(err);
    return [
      { id, ready: false, required: true, message },
      { id: `${id}.sync`, ready: false, required: syncRequired, message },
    ];
  }
  if (!live) {
    return [
      { id, ready: false, required: true, message: `${where} does not exist` },
      { id: `${id}.sync`, ready: false, required: syncRequired, message: `${where} does not exist` },
    ];
  }
  const desired = application(ctx.config, env) as Obj;
  const present: Check = includesDesired(live.spec, desired.spec)
    ? {
        id,
        ready: true,
        required: true,
        message: `${where}: ${env.namespace}/ of ${ctx.config.git.repoUrl} → namespace ${env.namespace}`,
      }
    : {
        id,
        ready: false,
        required: true,
        message: `${where} differs from the configuration (source, destination, project or sync policy)`,
      };
  const s = applicationStatus(live);
  // Argo CD 3.x keeps each resource's health out of the Application: name the failing Seldon resources from
  // their own status (best effort: an identity that cannot read them gets Argo CD's summary alone).
  if (s.health === 'Degraded' && s.message === `${s.sync}, ${s.health}`) {
    const failures = (
      await Promise.all(
        seldonResourcesOf(live).map(async (ref) => {
          const obj = await ctx.kube.get(ref).catch(() => null);
          const why = obj ? seldonFailure(obj) : undefined;
          return why ? [`${ref.kind}/${ref.name}: ${why}`] : [];
        }),
      )
    ).flat();
    if (failures.length > 0) s.message = failures.join('; ');
  }
  const synced = applicationReady(s);
  const message = synced
    ? 'Synced, Healthy'
    : s.message === `${s.sync}, ${s.health}`
      ? s.message
      : `${s.sync}, ${s.health}: ${s.message}`;
  return [present, { id: `${id}.sync`, ready: synced, required: syncRequired, message }];
}

/**
 * The environment namespaces (by name), the AppProject and the Applications (one LIST for every
 * Application: the apply and the report), Argo CD's CRDs (read, by name); the removals of environments
 * gone from the config: their members deleted and their namespaces given back, by name, only what the
 * inventory says.
 */
function needs(config: Config, inputs: NeedsInputs): Permission[] {
  if (inputs.run !== 'full') return [];
  const argo = config.argocd.namespace;
  const perms = applyNamedPermissions(
    '',
    'namespaces',
    undefined,
    environmentsOf(config).map((e) => e.namespace),
  );
  perms.push(
    ...applyPermissions('argoproj.io', 'appprojects', argo),
    ...applyPermissions('argoproj.io', 'applications', argo),
    { verb: 'list', group: 'argoproj.io', resource: 'applications', namespace: argo },
    { verb: 'get', group: 'apiextensions.k8s.io', resource: 'customresourcedefinitions', names: ARGO_CRDS },
  );
  perms.push(
    ...removalPermissions(
      inputs.removals?.delete.filter((m) => m.set !== 'argocd' && m.set !== 'batch') ?? [],
      CLUSTER_SCOPED_KINDS,
    ),
  );
  const release = inputs.removals?.release ?? [];
  if (release.length > 0)
    perms.push(
      { verb: 'get', group: '', resource: 'namespaces', names: release },
      { verb: 'patch', group: '', resource: 'namespaces', names: release },
    );
  return perms;
}

export const setupEnvironments: Step = { name: NAME, needs, reconcile, report };
