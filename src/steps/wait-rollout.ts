/**
 * Step 6: every Argo CD Deployment and StatefulSet rolled out, in the sense of `kubectl rollout status`
 * (observedGeneration, updated/ready/available replicas). Reconciled means: all of them are, within
 * `argocd.rolloutTimeout`; a terminal state (progress deadline exceeded) fails at once. No waiting in plan.
 */

import type { Config } from '../config/types.ts';
import { messageOf } from '../errors.ts';
import { argocdManifest } from '../inputs/inputs.ts';
import type { Permission } from '../kube/rbac.ts';
import {
  deploymentRolledOut,
  type ImagePullFailure,
  imagePullFailures,
  type Readiness,
  statefulSetRolledOut,
} from '../kube/status.ts';
import type { KubeObject } from '../kube/types.ts';
import { formatDuration, waitFor } from '../kube/wait.ts';
import { networkPolicyCheck } from '../report/posture.ts';
import type { Check } from '../report/types.ts';
import type { NeedsInputs, Step, StepContext } from './context.ts';

const NAME = 'wait-rollout';
const PART_OF_ARGOCD = 'app.kubernetes.io/part-of=argocd';

export interface Workload {
  kind: 'Deployment' | 'StatefulSet';
  name: string;
}

const predicate = (w: Workload): ((obj: unknown) => Readiness) =>
  w.kind === 'Deployment' ? deploymentRolledOut : statefulSetRolledOut;

/** The install manifest's objects when it is local or already loaded (never a download for status). */
async function manifestObjects(ctx: StepContext): Promise<readonly KubeObject[]> {
  const { install } = ctx.config.argocd;
  if (
    install.source === 'bundled' ||
    install.source === 'file' ||
    (install.source === 'url' && ctx.mode === 'apply')
  ) {
    return (await argocdManifest(ctx)).objects;
  }
  return [];
}

/**
 * The workloads to watch: those of the install manifest (when it is local or already loaded), plus any
 * Deployment or StatefulSet labelled part-of argocd (with `skip`, the only source).
 */
export async function argocdWorkloads(ctx: StepContext): Promise<Workload[]> {
  const { namespace } = ctx.config.argocd;
  const found = new Map<string, Workload>();
  const add = (kind: string, name: string) => {
    if (kind === 'Deployment' || kind === 'StatefulSet') found.set(`${kind}/${name}`, { kind, name });
  };
  for (const obj of await manifestObjects(ctx)) add(obj.kind, obj.metadata.name);
  for (const kind of ['Deployment', 'StatefulSet']) {
    for (const obj of await ctx.kube.list('apps/v1', kind, { namespace, labelSelector: PART_OF_ARGOCD })) {
      add(kind, obj.metadata.name);
    }
  }
  return [...found.values()].sort((a, b) => a.name.localeCompare(b.name));
}

async function probe(ctx: StepContext, w: Workload): Promise<Readiness> {
  const obj = await ctx.kube.get<KubeObject>({
    apiVersion: 'apps/v1',
    kind: w.kind,
    namespace: ctx.config.argocd.namespace,
    name: w.name,
  });
  return obj ? predicate(w)(obj) : { done: false, state: 'not found' };
}

/**
 * Argo CD's pods that wait on an image they cannot pull (ImagePullBackOff, ErrImagePull), from one list of
 * the namespace's pods; none when the pods cannot be listed (a reader without that right gets no detail).
 */
async function pullFailures(ctx: StepContext): Promise<ImagePullFailure[]> {
  try {
    return imagePullFailures(await ctx.kube.list('v1', 'Pod', { namespace: ctx.config.argocd.namespace }));
  } catch {
    return [];
  }
}

/** The pods of workload `w` among the failures (pods are named `<workload>-…`). */
const failuresOf = (w: Workload, failures: readonly ImagePullFailure[]) =>
  failures.filter((f) => f.pod.startsWith(`${w.name}-`));

/** One sentence per image that cannot be pulled: the image, the kubelet's reason, the fix. */
export function pullFailureSentence(ctx: StepContext, failures: readonly ImagePullFailure[]): string {
  const { images, namespace } = ctx.config.argocd;
  const byImage = new Map<string, ImagePullFailure>();
  for (const f of failures) if (!byImage.has(f.image)) byImage.set(f.image, f);
  const rewritten = images.registry !== undefined || Object.keys(images.map).length > 0;
  const fix = rewritten
    ? `push it to that name in the site's registry (\`sd-gitops-bootstrap images\` lists every image the run needs)${
        images.pullSecrets.length > 0
          ? `, and check that Secret ${images.pullSecrets.map((n) => `${namespace}/${n}`).join(', ')} (argocd.images.pullSecrets) holds credentials that may read it`
          : ', and if the registry needs credentials, name a kubernetes.io/dockerconfigjson Secret in argocd.images.pullSecrets'
      }`
    : `the nodes cannot pull from its registry: mirror the images \`sd-gitops-bootstrap images\` lists into the site's registry and set argocd.images.registry (and argocd.images.pullSecrets when it needs credentials)`;
  return [...byImage.values()]
    .map((f) => {
      const why = f.message ? `: ${f.message.length > 240 ? `${f.message.slice(0, 240)}…` : f.message}` : '';
      return `image ${f.image} cannot be pulled (${f.reason} in pod ${f.pod}${why}): ${fix}`;
    })
    .join('; ');
}

/** The probe while waiting: when not rolled out yet, the state names any image its pods cannot pull. */
async function probeNamingPulls(ctx: StepContext, w: Workload): Promise<Readiness> {
  const r = await probe(ctx, w);
  if (r.done) return r;
  const failures = failuresOf(w, await pullFailures(ctx));
  return failures.length > 0 ? { ...r, state: `${r.state}; ${pullFailureSentence(ctx, failures)}` } : r;
}

async function reconcile(ctx: StepContext): Promise<string> {
  if (ctx.mode !== 'apply') return 'no waiting in plan';
  const workloads = await argocdWorkloads(ctx);
  const deadline = Date.now() + Math.min(ctx.config.argocd.rolloutTimeout, ctx.remainingMs());
  ctx.log.info(
    `waiting for ${workloads.length} Argo CD workloads to roll out (timeout ${formatDuration(ctx.config.argocd.rolloutTimeout)})…`,
  );
  for (const w of workloads) {
    const started = Date.now();
    await waitFor(`${w.kind.toLowerCase()}/${w.name} to roll out`, () => probeNamingPulls(ctx, w), {
      timeoutMs: Math.max(0, deadline - Date.now()),
      intervalMs: ctx.deps.pollIntervalMs ?? 2000,
      signal: ctx.signal,
    });
    ctx.log.info(`✔ ${w.kind.toLowerCase()}/${w.name} rolled out (${formatDuration(Date.now() - started)})`);
  }
  return `${workloads.length} workloads rolled out`;
}

/**
 * After the rollout, what guards the workloads: the install manifest's NetworkPolicies (the repo-server's
 * and the controller's among them) present in argocd.namespace. One list request per run.
 */
async function networkPolicies(ctx: StepContext): Promise<Check> {
  const { namespace } = ctx.config.argocd;
  let expected: string[];
  try {
    expected = (await manifestObjects(ctx))
      .filter((o) => o.kind === 'NetworkPolicy')
      .map((o) => o.metadata.name);
  } catch {
    expected = []; // the manifest's own failure is argocd.rollout's and argocd.install's to say
  }
  let present: string[] | { error: string };
  try {
    present = (await ctx.kube.list('networking.k8s.io/v1', 'NetworkPolicy', { namespace })).map(
      (o) => o.metadata.name,
    );
  } catch (err) {
    present = { error: messageOf(err) };
  }
  return networkPolicyCheck(ctx.config, { expected, present });
}

async function report(ctx: StepContext): Promise<Check[]> {
  const [rollout, policies] = await Promise.all([rolloutChecks(ctx), networkPolicies(ctx)]);
  return [...rollout, policies];
}

async function rolloutChecks(ctx: StepContext): Promise<Check[]> {
  let workloads: Workload[];
  try {
    workloads = await argocdWorkloads(ctx);
  } catch (err) {
    return [{ id: 'argocd.rollout', ready: false, required: true, message: messageOf(err) }];
  }
  if (workloads.length === 0) {
    return [
      {
        id: 'argocd.rollout',
        ready: false,
        required: true,
        message: `no Argo CD Deployments or StatefulSets in namespace ${ctx.config.argocd.namespace}`,
      },
    ];
  }
  // The pods are listed once, and only when some workload is not rolled out.
  let failures: Promise<ImagePullFailure[]> | undefined;
  const listOnce = (): Promise<ImagePullFailure[]> => {
    failures ??= pullFailures(ctx);
    return failures;
  };
  return Promise.all(
    workloads.map(async (w): Promise<Check> => {
      const id = `argocd.rollout.${w.name}`;
      try {
        const r = await probe(ctx, w);
        const pulls = r.done ? [] : failuresOf(w, await listOnce());
        return {
          id,
          ready: r.done,
          required: true,
          message: `${w.kind.toLowerCase()}/${w.name}: ${r.terminal ?? r.state}${pulls.length > 0 ? `; ${pullFailureSentence(ctx, pulls)}` : ''}`,
        };
      } catch (err) {
        return { id, ready: false, required: true, message: messageOf(err) };
      }
    }),
  );
}

/** Reads of Argo CD's workloads, and a list of their pods for an image they cannot pull. */
function needs(config: Config, inputs: NeedsInputs): Permission[] {
  if (inputs.run !== 'full') return [];
  const argo = config.argocd.namespace;
  return [
    ...['deployments', 'statefulsets'].flatMap((resource) => [
      { verb: 'get', group: 'apps', resource, namespace: argo },
      { verb: 'list', group: 'apps', resource, namespace: argo },
    ]),
    { verb: 'list', group: '', resource: 'pods', namespace: argo },
  ];
}

export const waitRollout: Step = { name: NAME, needs, reconcile, report };
