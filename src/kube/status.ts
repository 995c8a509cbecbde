/**
 * Pure readiness predicates over an object's status. The workload ones follow `kubectl rollout status`
 * (k8s.io/kubectl/pkg/polymorphichelpers/rollout_status.go) check by check, so "rolled out" here means
 * what it means to the people reading the report.
 */

export interface Readiness {
  done: boolean;
  /** The observed state in words, e.g. "2 of 3 updated replicas are available". */
  state: string;
  /** Set when waiting cannot help (fail at once instead of waiting out the timeout). */
  terminal?: string;
}

interface Condition {
  type?: string;
  status?: string;
  reason?: string;
  message?: string;
}

interface WorkloadLike {
  metadata?: { generation?: number; name?: string };
  spec?: {
    replicas?: number;
    updateStrategy?: { type?: string; rollingUpdate?: { partition?: number } };
  };
  status?: {
    observedGeneration?: number;
    replicas?: number;
    updatedReplicas?: number;
    readyReplicas?: number;
    availableReplicas?: number;
    currentReplicas?: number;
    currentRevision?: string;
    updateRevision?: string;
    conditions?: Condition[];
  };
}

/** Deployment: `kubectl rollout status deployment/<name>`. */
export function deploymentRolledOut(d: unknown): Readiness {
  const dep = d as WorkloadLike;
  const generation = dep.metadata?.generation ?? 0;
  const status = dep.status ?? {};
  if (generation > (status.observedGeneration ?? 0)) {
    return { done: false, state: 'waiting for the deployment spec update to be observed' };
  }
  const progressing = status.conditions?.find((c) => c.type === 'Progressing');
  if (progressing?.reason === 'ProgressDeadlineExceeded') {
    const why = progressing.message ? `: ${progressing.message}` : '';
    return {
      done: false,
      state: 'exceeded its progress deadline',
      terminal: `exceeded its progress deadline${why}`,
    };
  }
  const updated = status.updatedReplicas ?? 0;
  const desired = dep.spec?.replicas;
  if (desired !== undefined && updated < desired) {
    return { done: false, state: `${updated} out of ${desired} new replicas have been updated` };
  }
  const total = status.replicas ?? 0;
  if (total > updated) {
    return { done: false, state: `${total - updated} old replicas are pending termination` };
  }
  const available = status.availableReplicas ?? 0;
  if (available < updated) {
    return { done: false, state: `${available} of ${updated} updated replicas are available` };
  }
  return { done: true, state: `successfully rolled out (${available} available)` };
}

/** StatefulSet: `kubectl rollout status statefulset/<name>` (RollingUpdate only, partitions respected). */
export function statefulSetRolledOut(s: unknown): Readiness {
  const sts = s as WorkloadLike;
  const strategy = sts.spec?.updateStrategy?.type ?? 'RollingUpdate';
  if (strategy !== 'RollingUpdate') {
    const msg = `rollout status is only available for RollingUpdate strategy type (this one uses ${strategy})`;
    return { done: false, state: msg, terminal: msg };
  }
  const status = sts.status ?? {};
  const observed = status.observedGeneration ?? 0;
  if (observed === 0 || (sts.metadata?.generation ?? 0) > observed) {
    return { done: false, state: 'waiting for the statefulset spec update to be observed' };
  }
  const desired = sts.spec?.replicas;
  const ready = status.readyReplicas ?? 0;
  if (desired !== undefined && ready < desired) {
    return { done: false, state: `${ready} of ${desired} pods are ready` };
  }
  const updated = status.updatedReplicas ?? 0;
  const rollingUpdate = sts.spec?.updateStrategy?.rollingUpdate;
  if (rollingUpdate) {
    const partition = rollingUpdate.partition;
    if (desired !== undefined && partition !== undefined && updated < desired - partition) {
      return {
        done: false,
        state: `partitioned roll out: ${updated} out of ${desired - partition} new pods have been updated`,
      };
    }
    return { done: true, state: `partitioned roll out complete: ${updated} new pods have been updated` };
  }
  if (status.updateRevision !== status.currentRevision) {
    return {
      done: false,
      state: `rolling update: ${updated} pods at revision ${status.updateRevision ?? '?'}`,
    };
  }
  return {
    done: true,
    state: `rolling update complete: ${status.currentReplicas ?? 0} pods at revision ${status.currentRevision ?? '?'}`,
  };
}

/** CustomResourceDefinition: condition Established=True; NamesAccepted=False is terminal (name clash). */
export function crdEstablished(crd: unknown): Readiness {
  const conditions = (crd as { status?: { conditions?: Condition[] } }).status?.conditions ?? [];
  const names = conditions.find((c) => c.type === 'NamesAccepted');
  if (names?.status === 'False') {
    const msg = `names not accepted: ${names.message ?? names.reason ?? 'unknown reason'}`;
    return { done: false, state: msg, terminal: msg };
  }
  const established = conditions.find((c) => c.type === 'Established');
  if (established?.status === 'True') return { done: true, state: 'established' };
  return {
    done: false,
    state: established?.message ? `not established: ${established.message}` : 'not established yet',
  };
}

export interface ApplicationStatus {
  /** Synced | OutOfSync | Unknown */
  sync: string;
  /** Healthy | Progressing | Degraded | Suspended | Missing | Unknown */
  health: string;
  /** The most useful sentence Argo CD gives: an error condition, a failed operation, or the health message. */
  message: string;
  /**
   * Argo CD's status compares an older source than the Application's spec (`status.sync.comparedTo`): right
   * after the source changed, "Synced" still describes the old one and must not count as ready.
   */
  stale: boolean;
}

/** Synced and Healthy against the Application's current source. */
export function applicationReady(s: ApplicationStatus): boolean {
  return s.sync === 'Synced' && s.health === 'Healthy' && !s.stale;
}

interface AppResource {
  kind?: string;
  name?: string;
  namespace?: string;
  health?: { status?: string; message?: string };
}

/**
 * The resources that make the Application as unhealthy as it is, `Kind/name: message` (a Seldon health
 * check's message, src/manifests/seldon-health.ts). Only where Argo CD keeps each resource's health in the
 * Application: Argo CD 2.x, and 3.x with `controller.resource.health.persist: "true"` (3.x's default keeps
 * it in Redis, and then the Application's own status is all there is).
 */
function unhealthy(resources: AppResource[] | undefined, health: string): string[] {
  if (health === 'Healthy' || health === 'Unknown') return [];
  return (resources ?? [])
    .filter((r) => r.health?.status === health)
    .map((r) => `${r.kind}/${r.name}${r.health?.message ? `: ${r.health.message}` : ` ${health}`}`);
}

/** The Seldon kinds src/manifests/seldon-health.ts has health checks for, by API group. */
export const SELDON_KINDS: Readonly<Record<string, readonly string[]>> = {
  'machinelearning.seldon.io': ['SeldonDeployment'],
  'mlops.seldon.io': ['Model', 'Pipeline', 'Experiment'],
};

// Core 2 scheduler states that are work in progress (as in the Lua check).
const SELDON_IN_PROGRESS = new Set([
  'ModelStateUnknown',
  'ModelProgressing',
  'ModelTerminating',
  'LoadRequested',
  'Loading',
  'ModelScaledDown',
  'PipelineStatusUnknown',
  'PipelineCreate',
  'PipelineCreating',
  'PipelineTerminate',
  'PipelineTerminating',
  'PipelineRebalancing',
]);

/**
 * Why a live Seldon object is Degraded, in the words of its Lua health check (`Failed: <description>`,
 * `Not ready: <reason>: <message>`), or undefined when the check would not say Degraded. For the report where
 * Argo CD keeps resource health out of the Application (3.x's default): it names the failing model itself.
 */
export function seldonFailure(obj: unknown): string | undefined {
  const o = obj as {
    kind?: string;
    status?: { state?: string; description?: string; conditions?: Condition[] };
  };
  const status = o.status;
  if (!status) return undefined;
  if (o.kind === 'SeldonDeployment' && status.state !== undefined) {
    if (status.state !== 'Failed') return undefined;
    return status.description ? `Failed: ${status.description}` : 'Failed';
  }
  const ready = (status.conditions ?? []).find((c) => c.type === 'Ready');
  if (ready?.status !== 'False') return undefined;
  const text = [ready.reason, ready.message].filter((t) => !!t).join(': ');
  if (o.kind === 'SeldonDeployment') return `Not ready: ${text}`;
  if (!text || SELDON_IN_PROGRESS.has(ready.message ?? '') || SELDON_IN_PROGRESS.has(ready.reason ?? ''))
    return undefined;
  return `Not ready: ${text}`;
}

/** The Seldon resources an Application lists (`status.resources`), as refs to read. */
export function seldonResourcesOf(
  app: unknown,
): { apiVersion: string; kind: string; namespace?: string; name: string }[] {
  const resources =
    (app as { status?: { resources?: (AppResource & { group?: string; version?: string })[] } }).status
      ?.resources ?? [];
  return resources
    .filter((r) => r.group && r.kind && r.name && SELDON_KINDS[r.group]?.includes(r.kind))
    .map((r) => ({
      apiVersion: `${r.group}/${r.version ?? 'v1'}`,
      kind: r.kind!,
      name: r.name!,
      ...(r.namespace ? { namespace: r.namespace } : {}),
    }));
}

interface AppSource {
  repoURL?: string;
  path?: string;
}

/** Argo CD Application: sync and health as Argo CD reports them ("Unknown" until it has). */
export function applicationStatus(app: unknown): ApplicationStatus {
  const status =
    (
      app as {
        status?: {
          sync?: { status?: string; comparedTo?: { source?: AppSource } };
          health?: { status?: string; message?: string };
          conditions?: Condition[];
          operationState?: { phase?: string; message?: string };
          resources?: AppResource[];
        };
      }
    ).status ?? {};
  const sync = status.sync?.status ?? 'Unknown';
  const health = status.health?.status ?? 'Unknown';
  const want = (app as { spec?: { source?: AppSource } }).spec?.source;
  const compared = status.sync?.comparedTo?.source;
  const stale =
    !!want &&
    !!compared &&
    (compared.repoURL !== want.repoURL || (compared.path ?? '') !== (want.path ?? ''));
  const errors = (status.conditions ?? [])
    .filter((c) => c.type?.endsWith('Error') && c.message)
    .map((c) => `${c.type}: ${c.message}`);
  const op = status.operationState;
  let message: string;
  if (errors.length > 0) message = errors.join('; ');
  else if (op && (op.phase === 'Failed' || op.phase === 'Error') && op.message)
    message = `sync ${op.phase.toLowerCase()}: ${op.message}`;
  else if (unhealthy(status.resources, health).length > 0)
    message = unhealthy(status.resources, health).join('; ');
  else if (status.health?.message) message = status.health.message;
  else if (!status.sync && !status.health) message = 'not reconciled by Argo CD yet';
  else if (stale) message = 'Argo CD has not compared the new source yet';
  else message = `${sync}, ${health}`;
  return { sync, health, message, stale };
}

/** A container of a pod that cannot get its image: the image, the kubelet's reason and message. */
export interface ImagePullFailure {
  pod: string;
  container: string;
  image: string;
  reason: string;
  message: string;
}

const PULL_REASONS = new Set(['ImagePullBackOff', 'ErrImagePull', 'InvalidImageName', 'ErrImageNeverPull']);

/** The containers (init containers too) of the pods waiting on an image they cannot pull. */
export function imagePullFailures(pods: readonly unknown[]): ImagePullFailure[] {
  const out: ImagePullFailure[] = [];
  for (const p of pods) {
    const pod = p as {
      metadata?: { name?: string };
      status?: {
        initContainerStatuses?: ContainerStatus[];
        containerStatuses?: ContainerStatus[];
      };
    };
    for (const c of [
      ...(pod.status?.initContainerStatuses ?? []),
      ...(pod.status?.containerStatuses ?? []),
    ]) {
      const waiting = c.state?.waiting;
      if (!waiting?.reason || !PULL_REASONS.has(waiting.reason)) continue;
      out.push({
        pod: pod.metadata?.name ?? '?',
        container: c.name ?? '?',
        image: c.image ?? '?',
        reason: waiting.reason,
        message: waiting.message ?? '',
      });
    }
  }
  return out;
}

interface ContainerStatus {
  name?: string;
  image?: string;
  state?: { waiting?: { reason?: string; message?: string } };
}
