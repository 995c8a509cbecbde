/**
 * The security posture of Argo CD, as platform teams check it first (issue 23): the local admin user,
 * anonymous access, `server.insecure`, and the NetworkPolicies Argo CD's manifests ship (since 2.x). Pure:
 * the steps read the ConfigMaps and the NetworkPolicies (configure-argocd.ts, wait-rollout.ts) and pass what
 * they saw. Whatever `argocd.install.source`, the checks say what the cluster has.
 *
 * Which checks decide readiness:
 * - `argocd.posture.admin`: informative. The admin user is how the bootstrap's generated password logs in;
 *   the message names SSO (argocd.sso with disableAdmin) as the alternative for people.
 * - `argocd.posture.anonymous`: required, unless argocd.settings.cm sets `users.anonymous.enabled` itself
 *   (the user chose it; then informative): anonymous users get `policy.default`'s role on everything.
 * - `argocd.posture.server-insecure`: informative. `true` is expected: Istio's gateway terminates TLS.
 * - `argocd.posture.network-policies`: required when the bootstrap installs Argo CD (it applied them);
 *   informative with `install.source: skip`.
 */
import type { Config } from '../config/types.ts';
import type { Check } from './types.ts';

export const ARGOCD_CM = 'argocd-cm';
export const CMD_PARAMS_CM = 'argocd-cmd-params-cm';

/**
 * The NetworkPolicies a platform team looks for first (the repo-server runs tools on repository content; the
 * controller holds the clusters' credentials). Both bundled manifests (v3.5.1, v2.14.21) ship them, with
 * those of applicationset-controller, dex-server, notifications-controller, redis and server.
 */
export const CORE_NETWORK_POLICIES: readonly string[] = [
  'argocd-application-controller-network-policy',
  'argocd-repo-server-network-policy',
];

/** Go's strconv.ParseBool true values: how Argo CD reads `users.anonymous.enabled`. */
const TRUE_VALUES = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);

/** What a ConfigMap read found: its data, or null when the ConfigMap does not exist. */
export type SeenData = Readonly<Record<string, string>> | null;

/** `admin.enabled` in argocd-cm: Argo CD disables the local admin only for the exact value "false". */
export function adminCheck(config: Config, cm: SeenData): Check {
  const check = { id: 'argocd.posture.admin', required: false, ready: true };
  const { namespace } = config.argocd;
  if (cm === null)
    return { ...check, ready: false, message: `ConfigMap ${namespace}/${ARGOCD_CM} does not exist` };
  if (cm['admin.enabled'] === 'false') {
    return {
      ...check,
      message: `local admin user disabled (${ARGOCD_CM} admin.enabled: "false")${config.argocd.sso.enabled ? ': people log in through SSO' : ''}`,
    };
  }
  const how =
    cm['admin.enabled'] === undefined ? 'admin.enabled unset' : `admin.enabled: "${cm['admin.enabled']}"`;
  return {
    ...check,
    message: `local admin user enabled (${ARGOCD_CM} ${how}): the password in argocd.adminPassword.secretRef logs in with full rights; for people, SSO is the alternative (argocd.sso, with argocd.sso.disableAdmin: true to turn the admin off)`,
  };
}

/** `users.anonymous.enabled` in argocd-cm. */
export function anonymousCheck(config: Config, cm: SeenData): Check {
  const id = 'argocd.posture.anonymous';
  const { namespace, settings } = config.argocd;
  if (cm === null)
    return {
      id,
      required: true,
      ready: false,
      message: `ConfigMap ${namespace}/${ARGOCD_CM} does not exist`,
    };
  const value = cm['users.anonymous.enabled'];
  if (value === undefined || !TRUE_VALUES.has(value)) {
    return {
      id,
      required: true,
      ready: true,
      message: `anonymous access disabled (${ARGOCD_CM} users.anonymous.enabled ${value === undefined ? 'unset' : `"${value}"`})`,
    };
  }
  const chosen = settings.cm['users.anonymous.enabled'];
  if (typeof chosen === 'string' && TRUE_VALUES.has(chosen)) {
    return {
      id,
      required: false,
      ready: true,
      message: `anonymous access enabled, as argocd.settings.cm sets it (users.anonymous.enabled: "${chosen}"): anyone who reaches Argo CD gets the role of argocd-rbac-cm policy.default`,
    };
  }
  return {
    id,
    required: true,
    ready: false,
    message: `anonymous access enabled (${ARGOCD_CM} users.anonymous.enabled: "${value}"), not by this config: anyone who reaches Argo CD gets the role of argocd-rbac-cm policy.default; remove the key from ${namespace}/${ARGOCD_CM}, or set argocd.settings.cm."users.anonymous.enabled": "true" to keep it on purpose`,
  };
}

/** `server.insecure` in argocd-cmd-params-cm: expected "true" behind Istio's TLS-terminating gateway. */
export function insecureCheck(config: Config, cmdParams: SeenData): Check {
  const check = { id: 'argocd.posture.server-insecure', required: false };
  const { namespace } = config.argocd;
  if (cmdParams === null)
    return { ...check, ready: false, message: `ConfigMap ${namespace}/${CMD_PARAMS_CM} does not exist` };
  const value = cmdParams['server.insecure'];
  if (value === 'true') {
    return {
      ...check,
      ready: true,
      message: `server.insecure: "true" (${CMD_PARAMS_CM}), as expected behind Istio: argocd-server serves plain HTTP inside the mesh and Istio's gateway terminates TLS; the seed procedure turns Argo CD's own TLS off on purpose (argocd.server.insecure)`,
    };
  }
  return {
    ...check,
    ready: true,
    message: `server.insecure ${value === undefined ? 'unset' : `"${value}"`} (${CMD_PARAMS_CM}): argocd-server serves TLS itself; behind Istio's TLS-terminating gateway the route then needs TLS to the backend (argocd.server.insecure: true is what the seed procedure uses)`,
  };
}

export interface NetworkPolicySeen {
  /** The names to look for: the manifest's NetworkPolicies (when it was read) and the core two. */
  expected: readonly string[];
  /** The NetworkPolicies in argocd.namespace, or why they could not be listed. */
  present: readonly string[] | { error: string };
}

/** The manifest's NetworkPolicies, the repo-server's and the controller's among them, present. */
export function networkPolicyCheck(config: Config, seen: NetworkPolicySeen): Check {
  const { namespace, install } = config.argocd;
  const installed = install.source !== 'skip';
  const check = { id: 'argocd.posture.network-policies', required: installed };
  if (!Array.isArray(seen.present)) {
    const error = (seen.present as { error: string }).error;
    return {
      ...check,
      ready: false,
      message: `cannot list the NetworkPolicies in ${namespace}: ${error}${installed ? '' : ' (with argocd.install.source: skip the chart grants no access to NetworkPolicies)'}`,
    };
  }
  const present = new Set(seen.present as readonly string[]);
  const expected = [...new Set([...CORE_NETWORK_POLICIES, ...seen.expected])].sort();
  const missing = expected.filter((n) => !present.has(n));
  if (missing.length === 0) {
    return {
      ...check,
      ready: true,
      message: `${expected.length} NetworkPolicies of Argo CD present in ${namespace}, the repo-server's and the application-controller's among them`,
    };
  }
  const shipped = new Set(seen.expected);
  const notShipped = missing.filter((n) => !shipped.has(n));
  const fix = !installed
    ? 'Argo CD is managed elsewhere (argocd.install.source: skip): apply them from its install manifest there'
    : notShipped.length > 0 && seen.expected.length > 0
      ? `the install manifest (argocd.install) has no ${notShipped.join(', ')}: use one that ships them, as Argo CD's own do since 2.x`
      : 'apply re-creates them from the install manifest';
  return {
    ...check,
    ready: false,
    message: `NetworkPolicies missing in ${namespace}: ${missing.join(', ')}: ${fix}`,
  };
}
