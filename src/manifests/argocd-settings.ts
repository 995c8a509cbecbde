/**
 * Apply patches of Argo CD's own objects. Each names only the keys this program owns, so server-side apply
 * with our field manager leaves every other key (and whoever owns it) alone. `server.secretkey` in
 * argocd-secret belongs to argocd-server and never appears here.
 */
import { createHash } from 'node:crypto';
import { csvField } from '../config/guards.ts';
import type { Config } from '../config/types.ts';
import type { KubeObject } from '../kube/types.ts';
import { b64, MANAGED_BY_LABELS } from './common.ts';
import type { PasswordDecision } from './password.ts';
import { SELDON_HEALTH_CHECKS } from './seldon-health.ts';

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
    data: { ...config.argocd.settings.cmdParams, ...serverParams(config) },
  };
}

export const ARGOCD_CM = 'argocd-cm';
export const RBAC_CONFIGMAP = 'argocd-rbac-cm';
/** Argo CD reads `$<secret>:<key>` references only from Secrets with this label. */
export const ARGOCD_PART_OF_LABEL = { 'app.kubernetes.io/part-of': 'argocd' } as const;

/**
 * argocd-cm `oidc.config` (Argo CD's own OIDC client, no Dex): the client secret is a `$<secret>:<key>`
 * reference Argo CD resolves itself, so its value never passes through the bootstrap.
 */
export function oidcConfig(config: Config): string {
  const sso = config.argocd.sso;
  const { name, key } = sso.clientSecret.secretRef;
  return [
    `name: ${JSON.stringify(sso.name)}`,
    `issuer: ${JSON.stringify(sso.issuer ?? '')}`,
    `clientID: ${JSON.stringify(sso.clientID ?? '')}`,
    `clientSecret: ${JSON.stringify(`$${name}:${key}`)}`,
    `requestedScopes: ${JSON.stringify(sso.scopes)}`,
    ...(sso.rootCA ? [`rootCA: ${JSON.stringify(`${sso.rootCA.trim()}\n`)}`] : []),
    '',
  ].join('\n');
}

/**
 * The argocd-cm keys: Seldon's health checks (seldon-health.ts), then the config's extra keys over them (a
 * string replaces one, `null` removes it: it is then not applied, and server-side apply takes it out of
 * argocd-cm when this program had set it), Argo CD's URL, SSO.
 */
export function argocdCmData(config: Config): Record<string, string> {
  const data: Record<string, string> = { ...SELDON_HEALTH_CHECKS };
  for (const [key, value] of Object.entries(config.argocd.settings.cm)) {
    if (value === null) delete data[key];
    else data[key] = value;
  }
  // Without a trailing slash: Argo CD appends `/auth/callback` and its other paths to it.
  if (config.argocd.url) data.url = config.argocd.url.replace(/\/+$/, '');
  const sso = config.argocd.sso;
  if (sso.enabled) {
    data['oidc.config'] = oidcConfig(config);
    if (sso.disableAdmin) data['admin.enabled'] = 'false';
  }
  return data;
}

/** The argocd-rbac-cm keys: extra keys, with the SSO group mapping appended to `policy.csv`. */
export function rbacCmData(config: Config): Record<string, string> {
  const data: Record<string, string> = { ...config.argocd.settings.rbac };
  const sso = config.argocd.sso;
  const lines = Object.entries(sso.enabled ? sso.groups : {}).map(
    // Quoted when the name holds a comma or a quote (Argo CD reads policy.csv with Go's encoding/csv).
    ([group, role]) => `g, ${csvField(group)}, ${role}`,
  );
  if (lines.length > 0) {
    const own = data['policy.csv'] !== undefined ? data['policy.csv'].replace(/\n*$/, '\n') : '';
    data['policy.csv'] = `${own}${lines.join('\n')}\n`;
  }
  return data;
}

function configMapPatch(config: Config, name: string, data: Record<string, string>): KubeObject[] {
  if (Object.keys(data).length === 0) return [];
  return [
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: config.argocd.namespace }, data },
  ];
}

/** The SSO client secret's Secret, as Argo CD requires it (labelled), or none. Only the label is applied. */
export function ssoSecretLabelPatch(config: Config): KubeObject[] {
  if (!config.argocd.sso.enabled) return [];
  return [
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {
        name: config.argocd.sso.clientSecret.secretRef.name,
        namespace: config.argocd.namespace,
        labels: { ...ARGOCD_PART_OF_LABEL },
      },
    },
  ];
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
  // The extra keys only when there are some: the hash of a config without them stays what it was.
  const extra = Object.entries(config.argocd.settings.cmdParams).sort(([a], [b]) => a.localeCompare(b));
  return createHash('sha256')
    .update(
      JSON.stringify([
        params['server.insecure'],
        params['server.rootpath'],
        ...(extra.length ? [extra] : []),
      ]),
    )
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

/**
 * This program's Argo CD settings, as apply patches: argocd-secret, argocd-cmd-params-cm, argocd-server, and
 * argocd-cm / argocd-rbac-cm when the config has keys for them (extra keys, SSO).
 */
export function argocdConfigPatches(
  config: Config,
  decision: PasswordDecision,
  webhookData: Record<string, string> = {},
): KubeObject[] {
  return [
    argocdSecretPatch(config.argocd.namespace, decision, webhookData),
    cmdParamsConfigMap(config),
    serverRestartPatch(config),
    ...configMapPatch(config, ARGOCD_CM, argocdCmData(config)),
    ...configMapPatch(config, RBAC_CONFIGMAP, rbacCmData(config)),
  ];
}

/** The objects argocdConfigPatches patches (no password needed to name them). */
export function argocdConfigTargets(config: Config): KubeObject[] {
  return argocdConfigPatches(config, { hash: '', mtime: undefined } as unknown as PasswordDecision);
}
