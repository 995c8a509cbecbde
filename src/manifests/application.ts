import type { Config } from '../config/types.ts';
import type { KubeObject } from '../kube/types.ts';
import { type Environment, IN_CLUSTER_SERVER, MANAGED_BY_LABELS } from './common.ts';

/** Argo CD's finalizer that makes deleting an Application delete what it deployed. */
export const RESOURCES_FINALIZER = 'resources-finalizer.argocd.argoproj.io';

/** One environment's sync policy: its own keys over environments' (the logging namespace: environments'). */
export interface SyncPolicy {
  prune: boolean;
  selfHeal: boolean;
  /** Undefined: Argo CD's default (HEAD), and the field is not written (as the seed). */
  targetRevision: string | undefined;
  syncOptions: string[];
}

export function syncPolicyOf(config: Config, env: Pick<Environment, 'namespace' | 'logging'>): SyncPolicy {
  const defaults = config.environments;
  const own = env.logging ? undefined : defaults.namespaces.find((n) => n.name === env.namespace);
  return {
    prune: own?.prune ?? defaults.prune,
    selfHeal: own?.selfHeal ?? defaults.selfHeal,
    targetRevision: own?.targetRevision ?? defaults.targetRevision,
    syncOptions: own?.syncOptions ?? defaults.syncOptions,
  };
}

/** `automated (prune, selfHeal), revision main, options ServerSideApply=true`: for plan and the progress line. */
export function describeSyncPolicy(p: SyncPolicy): string {
  const flags = [...(p.prune ? ['prune'] : []), ...(p.selfHeal ? ['selfHeal'] : [])];
  return [
    `sync: automated${flags.length ? ` (${flags.join(', ')})` : ''}`,
    `revision ${p.targetRevision ?? 'HEAD'}`,
    ...(p.syncOptions.length ? [`options ${p.syncOptions.join(', ')}`] : []),
  ].join(', ');
}

/**
 * One environment's Argo CD Application: the folder named like the namespace, recursively, synced
 * automatically. `repoURL` is `git.repoUrl` verbatim: Argo CD matches credentials to it by exact URL.
 * `automated` always carries `prune` and `selfHeal` explicitly: with the default policy that is
 * `{prune: false, selfHeal: false}`, the seed's `automated: {}` in meaning. An empty `automated` after a
 * custom policy would make server-side apply drop the two fields it owned and leave `automated: null`,
 * which the Application CRD refuses (422); explicit falses round-trip default → custom → default. The
 * revision and the options are written only when set, so a switch back removes them (server-side apply).
 */
export function application(config: Config, env: Environment): KubeObject {
  const policy = syncPolicyOf(config, env);
  const automated = { prune: policy.prune, selfHeal: policy.selfHeal };
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Application',
    metadata: {
      name: env.applicationName,
      namespace: config.argocd.namespace,
      labels: { ...MANAGED_BY_LABELS },
    },
    spec: {
      project: config.environments.project,
      destination: { namespace: env.namespace, server: IN_CLUSTER_SERVER },
      source: {
        directory: { recurse: true },
        path: env.namespace,
        repoURL: config.git.repoUrl,
        ...(policy.targetRevision !== undefined ? { targetRevision: policy.targetRevision } : {}),
      },
      syncPolicy: {
        automated,
        ...(policy.syncOptions.length ? { syncOptions: [...policy.syncOptions] } : {}),
      },
    },
  };
}
