/**
 * Step 1: before any write. Reconciled means: the API answers, every permission this run will use (given
 * the config and the mode) is granted, and — in apply — this run holds the Lease, so two runs never overlap.
 * Missing permissions are all listed at once (`verb group/resource in namespace`). The permissions and the
 * inputs are each step's own (`Step.needs`, `Step.inputs`): the preflight finds what they depend on
 * (the manifest, the inventory, the live admin password Secret), collects them for the steps of the run
 * and reviews them (src/kube/rbac.ts).
 */
import { hostname } from 'node:os';
import type { Config } from '../config/types.ts';
import { ApiError, messageOf, PermissionError, StepError } from '../errors.ts';
import {
  argocdManifest,
  credentialsSecretRef,
  plannedRemovals,
  virtualServicePlan,
} from '../inputs/inputs.ts';
import { LEASE_NAME, LeaseHeldError, waitForLease } from '../kube/lease.ts';
import { applyPermissions, dedupePermissions, missingPermissions, type Permission } from '../kube/rbac.ts';
import { INVENTORY_CONFIGMAP } from '../manifests/inventory.ts';
import type { Check } from '../report/types.ts';
import type {
  DriftNeedsInputs,
  FullNeedsInputs,
  ManifestKind,
  NeedsInputs,
  Step,
  StepContext,
} from './context.ts';

const NAME = 'preflight';

/**
 * The preflight's own: the run's objects in its namespace — the inventory (read in every mode to plan the
 * removals), and in a run that writes, the Lease and the report ConfigMap.
 */
function ownNeeds(config: Config, inputs: NeedsInputs): Permission[] {
  const ns = inputs.runNamespace;
  const lease = (verbs: string[], names?: string[]) =>
    verbs.map((verb) => ({
      verb,
      group: 'coordination.k8s.io',
      resource: 'leases',
      namespace: ns,
      ...(names ? { names } : {}),
    }));
  switch (inputs.run) {
    case 'full':
      return [
        { verb: 'get', group: '', resource: 'configmaps', namespace: ns, names: [INVENTORY_CONFIGMAP] },
        ...(inputs.mode === 'apply'
          ? [...lease(['get', 'create', 'update']), ...applyPermissions('', 'configmaps', ns)]
          : []),
      ];
    case 'drift':
      // Only what the hook run created, by name: read the inventory, patch the report, update the Lease.
      return [
        {
          verb: 'get',
          group: '',
          resource: 'configmaps',
          namespace: ns,
          names: [INVENTORY_CONFIGMAP, config.report.configMap],
        },
        { verb: 'patch', group: '', resource: 'configmaps', namespace: ns, names: [config.report.configMap] },
        ...lease(['get', 'update'], [LEASE_NAME]),
      ];
    case 'uninstall':
      return [
        ...['get', 'create', 'patch', 'delete'].map((verb) => ({
          verb,
          group: '',
          resource: 'configmaps',
          namespace: ns,
        })),
        ...lease(['get', 'create', 'update', 'delete']),
      ];
  }
}

/**
 * Every permission the given steps declare for this run, with the preflight's own, deduplicated (names
 * united). Pure: the inputs say what the config implies.
 */
export function permissionsOf(steps: readonly Step[], config: Config, inputs: NeedsInputs): Permission[] {
  return dedupePermissions([
    ...ownNeeds(config, inputs),
    ...steps.flatMap((s) => s.needs?.(config, inputs) ?? []),
  ]);
}

/** The install manifest's objects as preflight reviews them (none with `install.source: skip`). */
async function manifestKindsOf(ctx: StepContext): Promise<ManifestKind[]> {
  if (ctx.config.argocd.install.source === 'skip') return [];
  return (await argocdManifest(ctx)).objects.map((o) => ({
    apiVersion: o.apiVersion,
    kind: o.kind,
    name: o.metadata.name,
    roleRef: (o as { roleRef?: { name?: string } }).roleRef?.name,
  }));
}

async function fullInputs(ctx: StepContext): Promise<FullNeedsInputs> {
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
    run: 'full',
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

async function driftInputs(ctx: StepContext): Promise<DriftNeedsInputs> {
  const manifestKinds = await manifestKindsOf(ctx);
  const vs = await virtualServicePlan(ctx);
  return {
    run: 'drift',
    runNamespace: ctx.runNamespace,
    manifestKinds,
    virtualServiceApiVersion: vs.create ? vs.apiVersion : undefined,
    credentialsNamespace: credentialsSecretRef(ctx).namespace,
  };
}

async function needsInputs(ctx: StepContext): Promise<NeedsInputs> {
  if (ctx.mode === 'uninstall')
    return { run: 'uninstall', runNamespace: ctx.runNamespace, inventory: await ctx.inventory.previous() };
  return ctx.scope === 'drift' ? driftInputs(ctx) : fullInputs(ctx);
}

async function reconcile(ctx: StepContext, steps: readonly Step[]): Promise<string> {
  try {
    await ctx.kube.can({ verb: 'get', group: '', resource: 'namespaces' });
  } catch (err) {
    const why = err instanceof ApiError && err.status === undefined ? 'cannot reach' : 'cannot use';
    throw new StepError(NAME, `${why} the Kubernetes API at ${ctx.kube.server}: ${messageOf(err)}`, {
      cause: err,
    });
  }
  const perms = permissionsOf(steps, ctx.config, await needsInputs(ctx));
  const missing = await missingPermissions(ctx.kube, perms);
  ctx.state.permissions = { reviewed: perms.length, missing };
  if (missing.length > 0) throw new PermissionError(missing);
  ctx.log.debug(`all ${perms.length} permissions granted`);

  // Inputs the later steps need, read now, in run order, so a missing Secret stops the run before anything
  // is written (the manifest was read and verified above).
  for (const step of steps) await step.inputs?.(ctx);

  const granted = `${perms.length} permissions granted`;
  if (ctx.mode !== 'apply' && ctx.mode !== 'uninstall') return granted;
  const holder = `${process.env.HOSTNAME || hostname()}/${process.pid}`;
  try {
    const lease = await waitForLease(ctx.kube, {
      namespace: ctx.runNamespace,
      holder,
      now: () => ctx.now(),
      remainingMs: () => ctx.remainingMs(),
      signal: ctx.signal,
      log: ctx.log,
    });
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

/**
 * The preflight of a run made of `steps` (run after it, in this order): reviews their declared
 * permissions and its own, and reads their inputs.
 */
export function preflightFor(steps: readonly Step[]): Step {
  const self: Step = {
    name: NAME,
    needs: ownNeeds,
    reconcile: (ctx) => reconcile(ctx, [self, ...steps]),
    report,
  };
  return self;
}
