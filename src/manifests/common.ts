/**
 * Names and helpers shared by the manifest builders. Builders are pure: config in, plain objects out;
 * nothing here talks to the API.
 */
import type { Config } from '../config/types.ts';

/** The one field manager of every server-side apply (DESIGN: "one field manager"). */
export const FIELD_MANAGER = 'sd-gitops-bootstrap';

/** Put on the objects this program owns outright (not on user namespaces, not on Argo CD's own objects). */
export const MANAGED_BY_LABELS: Readonly<Record<string, string>> = Object.freeze({
  'app.kubernetes.io/managed-by': FIELD_MANAGER,
});

/** The cluster Argo CD runs in, as Argo CD names it. */
export const IN_CLUSTER_SERVER = 'https://kubernetes.default.svc';

/** One GitOps environment: a namespace synced from the repository folder of the same name. */
export interface Environment {
  name: string;
  restricted: boolean;
  applicationName: string;
}

/** The seed's naming convention; any other name needs the `argocdapp` namespace label. */
export function defaultApplicationName(namespace: string): string {
  return `seldon-gitops-${namespace}`;
}

export function applicationNameFor(config: Config, namespace: string): string {
  return config.environments.applicationName.replaceAll('{namespace}', namespace);
}

/** The configured namespaces, then the logging namespace when enabled (once, even if also listed). */
export function environmentsOf(config: Config): Environment[] {
  const list = config.environments.namespaces.map((ns) => ({ name: ns.name, restricted: ns.restricted }));
  const { logging } = config.environments;
  if (logging.enabled && !list.some((ns) => ns.name === logging.namespace)) {
    list.push({ name: logging.namespace, restricted: logging.restricted });
  }
  return list.map((ns) => ({ ...ns, applicationName: applicationNameFor(config, ns.name) }));
}

export function b64(value: string): string {
  return Buffer.from(value, 'utf8').toString('base64');
}

export function fromB64(value: string | undefined): string | undefined {
  return value === undefined ? undefined : Buffer.from(value, 'base64').toString('utf8');
}

/** `/argocd` → `/argocd/`, `/argocd/` → `/argocd/`, `/` → `/`. */
export function rootPrefix(rootPath: string): string {
  const trimmed = rootPath.replace(/\/+$/, '');
  return `${trimmed}/`;
}
