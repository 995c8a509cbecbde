/**
 * Step 9: batch jobs in the environments that want them (environments.batch, namespaces[].batch), as Seldon's
 * "Argo Workflows — Per Namespace Setup" does by hand. Reconciled means: in each batch environment the
 * `workflow` Role (the configured rules), ServiceAccount and RoleBinding exist, and — with
 * environments.batch.storageSecret — the storage-initializer Secret holds the source Secret's data with
 * Seldon's bucket labels; what batch no longer covers (turned off, environment removed) is deleted.
 * Argo Workflows itself is not installed here.
 */
import type { Config } from '../config/types.ts';
import { messageOf } from '../errors.ts';
import { readStorageSecret, removedBatchMembers } from '../inputs/inputs.ts';
import { includesDesired } from '../kube/objects.ts';
import { applyNamedPermissions, fullAccess, type Permission, removalPermissions } from '../kube/rbac.ts';
import type { KubeObject } from '../kube/types.ts';
import {
  BUCKET_SECRET_LABELS,
  batchEnvironments,
  batchObjects,
  describeBatch,
  storageSecretSource,
  WORKFLOW_NAME,
  workflowObjects,
} from '../manifests/batch.ts';
import type { Check } from '../report/types.ts';
import type { NeedsInputs, Step, StepContext } from './context.ts';

const NAME = 'setup-batch';

async function reconcile(ctx: StepContext): Promise<string> {
  const removed: string[] = [];
  for (const m of await removedBatchMembers(ctx)) {
    if (await ctx.remove(m, { note: 'batch jobs no longer set up in this environment (environments.batch)' }))
      removed.push(`${m.kind} ${m.namespace}/${m.name}`);
  }
  const envs = batchEnvironments(ctx.config);
  if (envs.length === 0) return removed.length ? `removed: ${removed.join(', ')}` : 'no batch environments';
  const data = await readStorageSecret(ctx);
  const note = describeBatch(ctx.config, ctx.runNamespace);
  await ctx.apply(batchObjects(ctx.config, ctx.runNamespace, data), {
    set: 'batch',
    noteFor: (c) => (c.ref.kind === 'Role' ? note : undefined),
  });
  return [
    `batch jobs in ${envs.map((e) => e.namespace).join(', ')}`,
    ...(removed.length ? [`removed: ${removed.join(', ')}`] : []),
  ].join('; ');
}

type Obj = KubeObject & Record<string, unknown>;

/** One required check per batch environment: `env.batch.<namespace>`. Never says a Secret's values. */
async function report(ctx: StepContext): Promise<Check[]> {
  const envs = batchEnvironments(ctx.config);
  if (envs.length === 0) return [];
  let data: Record<string, string> | undefined;
  let sourceProblem: string | undefined;
  try {
    data = await readStorageSecret(ctx);
  } catch (err) {
    sourceProblem = messageOf(err);
  }
  const source = storageSecretSource(ctx.config, ctx.runNamespace);
  return Promise.all(
    envs.map(async (env): Promise<Check> => {
      const id = `env.batch.${env.namespace}`;
      try {
        const problems: string[] = [];
        for (const want of workflowObjects(ctx.config, env.namespace)) {
          const live = await ctx.kube.get<Obj>({
            apiVersion: want.apiVersion,
            kind: want.kind,
            namespace: env.namespace,
            name: WORKFLOW_NAME,
          });
          if (!live) problems.push(`${want.kind} ${WORKFLOW_NAME} does not exist`);
          else if (want.kind === 'Role' && !sameRules(live.rules, (want as Obj).rules))
            problems.push(`Role ${WORKFLOW_NAME} has other rules than environments.batch.rules`);
          else if (want.kind === 'RoleBinding' && !includesDesired(live, want))
            problems.push(
              `RoleBinding ${WORKFLOW_NAME} does not bind Role ${WORKFLOW_NAME} to ServiceAccount ${WORKFLOW_NAME}`,
            );
        }
        if (source) {
          const live = await ctx.kube.get<Obj & { data?: Record<string, string> }>({
            apiVersion: 'v1',
            kind: 'Secret',
            namespace: env.namespace,
            name: source.name,
          });
          if (sourceProblem) problems.push(sourceProblem);
          else if (!live) problems.push(`storage-initializer Secret ${source.name} does not exist`);
          else {
            const labels = live.metadata.labels ?? {};
            if (Object.entries(BUCKET_SECRET_LABELS).some(([k, v]) => labels[k] !== v))
              problems.push(`Secret ${source.name} lacks the labels secret-type=bucket, seldon-deploy=true`);
            if (!sameData(live.data ?? {}, data ?? {}))
              problems.push(
                `Secret ${source.name} differs from its source ${source.namespace}/${source.name}`,
              );
          }
        }
        if (problems.length)
          return {
            id,
            required: true,
            ready: false,
            message: `batch jobs in ${env.namespace}: ${problems.join('; ')} — run apply again`,
          };
        return {
          id,
          required: true,
          ready: true,
          message: `batch jobs in ${env.namespace}: Role, ServiceAccount and RoleBinding ${WORKFLOW_NAME}${source ? `, Secret ${source.name} (secret-type=bucket)` : ''}`,
        };
      } catch (err) {
        return { id, required: true, ready: false, message: messageOf(err) };
      }
    }),
  );
}

function sameRules(live: unknown, want: unknown): boolean {
  const norm = (rules: unknown) =>
    JSON.stringify(
      ((rules as Record<string, string[] | undefined>[] | undefined) ?? []).map((r) => ({
        apiGroups: r.apiGroups ?? [],
        resources: r.resources ?? [],
        verbs: r.verbs ?? [],
      })),
    );
  return norm(live) === norm(want);
}

/** Same keys and same values; compared here and never described. */
function sameData(a: Record<string, string>, b: Record<string, string>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => b[k] === a[k]);
}

/**
 * In each batch environment the `workflow` Role (escalate: it grants what this identity may not hold;
 * bind: the RoleBinding binds it), ServiceAccount and RoleBinding, and the storage Secret's copy, all by
 * name; the source Secret read by name; the batch objects the inventory says are no longer wanted, deleted
 * by name.
 */
function needs(config: Config, inputs: NeedsInputs): Permission[] {
  if (inputs.run !== 'full') return [];
  const perms: Permission[] = [];
  const storage = storageSecretSource(config, inputs.runNamespace);
  const envs = batchEnvironments(config);
  const rbac = 'rbac.authorization.k8s.io';
  const names = [WORKFLOW_NAME];
  for (const env of envs) {
    const ns = env.namespace;
    perms.push(
      ...applyNamedPermissions(rbac, 'roles', ns, names),
      { verb: 'escalate', group: rbac, resource: 'roles', namespace: ns, names, or: [fullAccess(ns)] },
      { verb: 'bind', group: rbac, resource: 'roles', namespace: ns, names, or: [fullAccess(ns)] },
      ...applyNamedPermissions(rbac, 'rolebindings', ns, names),
      ...applyNamedPermissions('', 'serviceaccounts', ns, names),
      ...(storage ? applyNamedPermissions('', 'secrets', ns, [storage.name]) : []),
    );
  }
  if (storage && envs.length > 0)
    perms.push({
      verb: 'get',
      group: '',
      resource: 'secrets',
      namespace: storage.namespace,
      names: [storage.name],
    });
  perms.push(
    ...removalPermissions(inputs.removals?.delete.filter((m) => m.set === 'batch') ?? [], new Set<string>()),
  );
  return perms;
}

/** environments.batch.storageSecret's source, read before any write (undefined when unset or no batch). */
async function inputs(ctx: StepContext): Promise<void> {
  await readStorageSecret(ctx);
}

export const setupBatch: Step = { name: NAME, needs, inputs, reconcile, report };
