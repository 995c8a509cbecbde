/**
 * Names and helpers shared by the manifest builders. Builders are pure: config in, plain objects out;
 * nothing here talks to the API.
 */
import { FIELD_MANAGER } from '../kube/apply.ts';

export { type Environment, environmentsOf } from '../config/environments.ts';
export { FIELD_MANAGER };

/**
 * Put on the objects this program owns outright, and on the Argo CD namespace when it installs Argo CD (not on
 * user namespaces, not on Argo CD's own objects).
 */
export const MANAGED_BY_LABELS: Readonly<Record<string, string>> = Object.freeze({
  'app.kubernetes.io/managed-by': FIELD_MANAGER,
});

/** The cluster Argo CD runs in, as Argo CD names it. */
export const IN_CLUSTER_SERVER = 'https://kubernetes.default.svc';

/** The seed's naming convention; any other name needs the `argocdapp` namespace label. */
export function defaultApplicationName(namespace: string): string {
  return `seldon-gitops-${namespace}`;
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
