/**
 * Argo CD's configuration objects, each built once: argocd-secret (admin hash, webhook key),
 * argocd-cmd-params-cm and argocd-server's restart annotation, argocd-cm and argocd-rbac-cm (extra keys,
 * URL, SSO), argocd-ssh-known-hosts-cm (the Git server's host keys) and argocd-tls-certs-cm (git.caBundle).
 * One step applies them: install-argocd merges them into the install manifest, configure-argocd applies
 * them alone with `install.source: skip` (docs/lifecycle.md, "Who writes each object"). Pure.
 */
import type { Config } from '../config/types.ts';
import type { KubeObject, ObjectRef } from '../kube/types.ts';
import { argocdConfigPatches } from './argocd-settings.ts';
import { repoHost } from './git-credentials.ts';
import {
  KNOWN_HOSTS_CONFIGMAP,
  KNOWN_HOSTS_KEY,
  knownHostsConfigMap,
  mergeKnownHosts,
} from './known-hosts.ts';
import type { PasswordDecision } from './password.ts';
import { TLS_CERTS_CONFIGMAP, tlsCertsConfigMap } from './tls-certs.ts';

/** What the configuration objects are made of, besides the config. */
export interface ArgocdConfigInputs {
  /** The admin hash of this run (src/manifests/password.ts). */
  decision: Pick<PasswordDecision, 'hash' | 'mtime'>;
  /** argocd-secret's webhook key (base64), or `{}`. */
  webhookData?: Record<string, string>;
  /** The Git server's host keys (known_hosts text), for an SSH repository. */
  gitKnownHosts?: string | undefined;
  /** git.caBundle (PEM), when set. */
  caBundle?: string | undefined;
  /** argocd-ssh-known-hosts-cm as the cluster holds it now: its entries are kept (never dropped). */
  liveKnownHosts?: KubeObject | null | undefined;
  /** The install manifest's objects, when this program installs Argo CD (its known hosts are kept too). */
  manifest?: readonly KubeObject[] | undefined;
}

type DataObject = KubeObject & { data?: Record<string, string> };

/** Where the live known hosts are read from (merged, never dropped). */
export function knownHostsRef(namespace: string): ObjectRef {
  return { apiVersion: 'v1', kind: 'ConfigMap', namespace, name: KNOWN_HOSTS_CONFIGMAP };
}

/**
 * The ConfigMaps built from what the cluster holds as well as from the config (known hosts merged with the
 * live entries, one CA key among others'): a drift run, which may not write them, does not compare them.
 */
export function mergedWithLive(obj: KubeObject): boolean {
  return obj.kind === 'ConfigMap' && [KNOWN_HOSTS_CONFIGMAP, TLS_CERTS_CONFIGMAP].includes(obj.metadata.name);
}

/**
 * argocd-ssh-known-hosts-cm: the live entries (or, when there are none yet, the manifest's), the manifest's
 * added, then the Git server's. Undefined when there is nothing to write: no Git server keys, and (with a
 * manifest) nothing beyond the manifest's own list.
 */
function knownHostsObject(namespace: string, inputs: ArgocdConfigInputs): KubeObject | undefined {
  const upstreamObj = inputs.manifest?.find(
    (o) => o.kind === 'ConfigMap' && o.metadata.name === KNOWN_HOSTS_CONFIGMAP,
  ) as DataObject | undefined;
  const upstream = upstreamObj?.data?.[KNOWN_HOSTS_KEY];
  const live = (inputs.liveKnownHosts as DataObject | null | undefined)?.data?.[KNOWN_HOSTS_KEY];
  let text = live !== undefined ? mergeKnownHosts(live, upstream).text : upstream;
  if (inputs.gitKnownHosts !== undefined) text = mergeKnownHosts(text, inputs.gitKnownHosts).text;
  const needed = inputs.gitKnownHosts !== undefined || (upstream !== undefined && text !== upstream);
  return text !== undefined && needed ? knownHostsConfigMap(namespace, text) : undefined;
}

/**
 * Every Argo CD configuration object this program writes, as apply patches (only the keys it owns):
 * argocd-secret, argocd-cmd-params-cm, argocd-server (restart annotation), argocd-cm and argocd-rbac-cm when
 * the config has keys for them, argocd-ssh-known-hosts-cm for an SSH repository (or kept entries), and
 * argocd-tls-certs-cm with git.caBundle.
 */
export function argocdConfigObjects(config: Config, inputs: ArgocdConfigInputs): KubeObject[] {
  const namespace = config.argocd.namespace;
  const objects = argocdConfigPatches(config, inputs.decision as PasswordDecision, inputs.webhookData ?? {});
  const knownHosts = knownHostsObject(namespace, inputs);
  if (knownHosts) objects.push(knownHosts);
  // The CA bundle under the repository's host: the other servers' keys stay (one key of a patch).
  if (inputs.caBundle !== undefined)
    objects.push(tlsCertsConfigMap(namespace, repoHost(config.git.repoUrl).host, inputs.caBundle));
  return objects;
}
