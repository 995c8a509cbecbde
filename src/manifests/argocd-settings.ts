/**
 * Apply patches of Argo CD's own objects. Each names only the keys this program owns, so server-side apply
 * with our field manager leaves every other key (and whoever owns it) alone. `server.secretkey` in
 * argocd-secret belongs to argocd-server and never appears here.
 */
import { createHash } from 'node:crypto';
import type { Config } from '../config/types.ts';
import type { KubeObject } from '../kube/types.ts';
import { b64, MANAGED_BY_LABELS } from './common.ts';
import type { PasswordDecision } from './password.ts';

export const CMD_PARAMS_CONFIGMAP = 'argocd-cmd-params-cm';
export const ARGOCD_SECRET = 'argocd-secret';
export const ARGOCD_SERVER = 'argocd-server';
export const SERVER_CONFIG_HASH_ANNOTATION = 'sd-gitops-bootstrap/server-config-hash';

/** The argocd-cmd-params-cm keys that replace the seed's `--insecure` and `--rootpath` flags. */
export function serverParams(config: Config): Record<string, string> {
  return {
    'server.insecure': String(config.argocd.server.insecure),
    'server.rootpath': config.argocd.server.rootPath,
  };
}

export function cmdParamsConfigMap(config: Config): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: CMD_PARAMS_CONFIGMAP, namespace: config.argocd.namespace },
    data: serverParams(config),
  };
}

/**
 * Only `admin.password` and `admin.passwordMtime`, plus the webhook key the webhook step keeps there
 * (`webhookData`, base64): one field manager owns both, so an apply without it would remove it.
 */
export function argocdSecretPatch(
  namespace: string,
  decision: Pick<PasswordDecision, 'hash' | 'mtime'>,
  webhookData: Record<string, string> = {},
): KubeObject {
  const data: Record<string, string> = { ...webhookData, 'admin.password': b64(decision.hash) };
  if (decision.mtime !== undefined) data['admin.passwordMtime'] = b64(decision.mtime);
  return { apiVersion: 'v1', kind: 'Secret', metadata: { name: ARGOCD_SECRET, namespace }, data };
}

/** A short digest of the server settings argocd-server reads only at start. */
export function serverConfigHash(config: Config): string {
  const params = serverParams(config);
  return createHash('sha256')
    .update(JSON.stringify([params['server.insecure'], params['server.rootpath']]))
    .digest('hex')
    .slice(0, 16);
}

/**
 * A partial argocd-server Deployment carrying only the pod-template annotation: its value changes exactly
 * when insecure/rootpath change, and a changed pod template is what restarts the server.
 */
export function serverRestartPatch(config: Config): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: ARGOCD_SERVER, namespace: config.argocd.namespace },
    spec: {
      template: { metadata: { annotations: { [SERVER_CONFIG_HASH_ANNOTATION]: serverConfigHash(config) } } },
    },
  };
}

/** Where the admin password is kept, and the password. */
export interface AdminPasswordSource {
  password: string;
  namespace: string;
  name: string;
  key: string;
}

/** The Secret a generated password is kept in, readable by the user (`kubectl get secret … -o jsonpath`). */
export function adminPasswordSecret(pw: AdminPasswordSource): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: pw.name,
      namespace: pw.namespace,
      labels: { ...MANAGED_BY_LABELS },
      annotations: { 'sd-gitops-bootstrap/generated': 'Argo CD admin password, generated on the first run' },
    },
    type: 'Opaque',
    data: { [pw.key]: b64(pw.password) },
  };
}

/** This program's Argo CD settings, as apply patches: argocd-secret, argocd-cmd-params-cm, argocd-server. */
export function argocdConfigPatches(
  config: Config,
  decision: PasswordDecision,
  webhookData: Record<string, string> = {},
): KubeObject[] {
  return [
    argocdSecretPatch(config.argocd.namespace, decision, webhookData),
    cmdParamsConfigMap(config),
    serverRestartPatch(config),
  ];
}

/** The objects argocdConfigPatches patches (no password needed to name them). */
export function argocdConfigTargets(config: Config): KubeObject[] {
  return argocdConfigPatches(config, { hash: '', mtime: undefined } as unknown as PasswordDecision);
}
