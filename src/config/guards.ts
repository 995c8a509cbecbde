/**
 * Input guards: the classes of input that must be refused before the first write, each a rule that returns
 * problems with the key's dot path and the fix (issue #21 item 3). They run with the other cross-key rules
 * (`INPUT_RULES`, from rules.ts) and once more in main.ts with the run's namespace (`runNamespaceProblems`),
 * which only the running process knows.
 *
 * `INPUT_CLASSES` names the classes for the reliability table; each class has a property test in
 * src/config/guards.test.ts (the config loader) or test/e2e/chart-values.test.ts (chart values).
 *
 * The config layer must not import the manifest builders (src/manifests), so the fixed names below are
 * literals; guards.test.ts checks each against the constant its builder uses.
 */
import type { ConfigProblem } from '../errors.ts';
import { environmentsOf } from './environments.ts';
import type { Config } from './types.ts';

// ---------------------------------------------------------------------------------------------------------
// Kubernetes' name and label rules, written once (the property tests check the builders' output with them)

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const LABEL_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;

/** A DNS-1123 label: namespaces (and names of kinds that require one). */
export function isDnsLabelName(s: string): boolean {
  return s.length <= 63 && DNS1123_LABEL.test(s);
}

/** A DNS-1123 subdomain: names of Secrets, ConfigMaps, Applications… */
export function isDnsSubdomainName(s: string): boolean {
  return s.length <= 253 && DNS1123_SUBDOMAIN.test(s);
}

/** A label value: empty, or ≤ 63 alphanumerics, '-', '_' and '.', starting and ending alphanumeric. */
export function isLabelValue(s: string): boolean {
  return s.length <= 63 && LABEL_VALUE.test(s);
}

/** A label or annotation key: optional DNS-subdomain prefix and '/', then a name of ≤ 63 characters. */
export function isQualifiedKey(s: string): boolean {
  const slash = s.lastIndexOf('/');
  const prefix = slash >= 0 ? s.slice(0, slash) : undefined;
  const name = slash >= 0 ? s.slice(slash + 1) : s;
  return (prefix === undefined || isDnsSubdomainName(prefix)) && name.length <= 63 && LABEL_NAME.test(name);
}

/** Kubernetes' limit on the total size of one object's annotations (keys and values). */
export const ANNOTATIONS_MAX_BYTES = 256 * 1024;

// ---------------------------------------------------------------------------------------------------------
// Namespaces that must never be environments

/**
 * Never an environment: the cluster's own namespaces (an Application syncing there, and the labels and
 * annotation this program sets and later removes, touch the control plane's workloads; `default` holds the
 * `kubernetes` Service), and OpenShift's. Argo CD's, Seldon Deploy's and the run's namespaces are refused by
 * `reservedNamespaces` with their reasons.
 */
export const SYSTEM_NAMESPACES: readonly string[] = [
  'default',
  'kube-system',
  'kube-public',
  'kube-node-lease',
];
export const SYSTEM_NAMESPACE_PREFIXES: readonly string[] = ['kube-', 'openshift-'];

export function isSystemNamespace(ns: string): boolean {
  return (
    SYSTEM_NAMESPACES.includes(ns) ||
    ns === 'openshift' ||
    SYSTEM_NAMESPACE_PREFIXES.some((p) => ns.startsWith(p))
  );
}

/** Why `ns` can never be an environment, or undefined. `runNamespace` only when known (main.ts). */
export function reservedReason(
  ns: string,
  c: Pick<Config, 'argocd' | 'seldonDeploy'>,
  runNamespace?: string,
): string | undefined {
  if (isSystemNamespace(ns))
    return `"${ns}" is a system namespace (default, kube-*, openshift-*): an environment's Application would sync into the cluster's own workloads`;
  if (ns === c.argocd.namespace)
    return `"${ns}" is Argo CD's namespace (argocd.namespace): an Application would sync over Argo CD itself, and uninstall deletes that namespace, with the environment's workloads, when this program created it`;
  if (ns === c.seldonDeploy.namespace)
    return `"${ns}" is Seldon Deploy's namespace (seldonDeploy.namespace): an Application would sync over Seldon Deploy and its Git credentials Secret`;
  if (runNamespace !== undefined && ns === runNamespace)
    return `"${ns}" is the namespace the bootstrap runs in (its inventory, Lease, report and the source Secrets): an Application would sync over them`;
  return undefined;
}

/** Every environment namespace (configured and logging) against the reserved ones. */
export function reservedNamespaces(
  c: Pick<Config, 'argocd' | 'seldonDeploy' | 'environments'>,
  runNamespace?: string,
): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  c.environments.namespaces.forEach((ns, i) => {
    const why = reservedReason(ns.name, c, runNamespace);
    if (why)
      problems.push({
        path: `environments.namespaces[${i}]`,
        message: `${why}: use a namespace of its own for the environment`,
      });
  });
  const logging = c.environments.logging;
  if (logging.enabled) {
    const why = reservedReason(logging.namespace, c, runNamespace);
    if (why)
      problems.push({
        path: 'environments.logging.namespace',
        message: `${why}: use Seldon's logging namespace (seldon-logs), or set environments.logging.enabled: false`,
      });
  }
  if (isSystemNamespace(c.argocd.namespace))
    problems.push({
      path: 'argocd.namespace',
      message: `"${c.argocd.namespace}" is a system namespace (default, kube-*, openshift-*): install Argo CD into a namespace of its own, e.g. "argocd"`,
    });
  return problems;
}

// ---------------------------------------------------------------------------------------------------------
// Names that collide with the bootstrap's own objects or with each other

/** The run's namespace before it is known: config-time checks compare names that default to it. */
const RUN = '\u0000run';

/**
 * Objects whose names the program fixes, by kind and namespace: its own (the inventory, the Argo CD repository
 * Secret) and Argo CD's (its install manifest's Secrets and ConfigMaps, and the `default` AppProject Argo CD
 * creates).
 */
export const FIXED_NAMES = {
  inventoryConfigMap: 'sd-gitops-bootstrap-inventory',
  repositorySecret: 'sd-gitops-bootstrap-repo',
  argocdSecrets: [
    'argocd-secret',
    'argocd-notifications-secret',
    'argocd-redis',
    'argocd-initial-admin-secret',
  ],
  argocdConfigMaps: [
    'argocd-cm',
    'argocd-rbac-cm',
    'argocd-cmd-params-cm',
    'argocd-ssh-known-hosts-cm',
    'argocd-tls-certs-cm',
    'argocd-gpg-keys-cm',
    'argocd-notifications-cm',
  ],
  argocdProject: 'default',
} as const;

/** How the program uses an object: creates (and owns) it, patches a few fields, or only reads it. */
type Use = 'creates' | 'patches' | 'reads';

interface NamedObject {
  /** The config key, or a description of a fixed object. */
  path: string;
  kind: 'Secret' | 'ConfigMap' | 'AppProject' | 'Application';
  namespace: string;
  name: string;
  use: Use;
  /** What the object is, for the message. */
  role: string;
}

function namedObjects(c: Config, runNamespace: string): NamedObject[] {
  const out: NamedObject[] = [];
  const argo = c.argocd.namespace;
  const add = (
    path: string,
    kind: NamedObject['kind'],
    ref: { name: string; namespace?: string },
    use: Use,
    role: string,
  ) => out.push({ path, kind, namespace: ref.namespace ?? runNamespace, name: ref.name, use, role });
  const pw = c.argocd.adminPassword;
  const ca = c.git.caBundle;
  add(
    'git.credentials.secretRef.name',
    'Secret',
    c.git.credentials.secretRef,
    'reads',
    'the source Git credentials Secret',
  );
  add(
    'argocd.adminPassword.secretRef.name',
    'Secret',
    pw.secretRef,
    pw.generate ? 'creates' : 'reads',
    'the admin password Secret',
  );
  if (ca?.secretRef)
    add('git.caBundle.secretRef.name', 'Secret', ca.secretRef, 'reads', 'the CA bundle Secret');
  if (ca?.configMapRef)
    add('git.caBundle.configMapRef.name', 'ConfigMap', ca.configMapRef, 'reads', 'the CA bundle ConfigMap');
  if (c.webhooks.enabled) {
    add(
      'webhooks.token.secretRef.name',
      'Secret',
      c.webhooks.token.secretRef,
      'reads',
      'the webhook API token Secret',
    );
    add(
      'webhooks.secretName',
      'Secret',
      { name: c.webhooks.secretName },
      'creates',
      'the webhook state Secret',
    );
  }
  if (c.argocd.sso.enabled) {
    const ssoSecret = { namespace: argo, name: c.argocd.sso.clientSecret.secretRef.name };
    add('argocd.sso.clientSecret.secretRef.name', 'Secret', ssoSecret, 'patches', 'the SSO client secret');
  }
  const sdSecret = { namespace: c.seldonDeploy.namespace, name: c.seldonDeploy.gitCredentialsSecret };
  add(
    'seldonDeploy.gitCredentialsSecret',
    'Secret',
    sdSecret,
    'creates',
    "Seldon Deploy's Git credentials Secret",
  );
  add(
    'report.configMap',
    'ConfigMap',
    { name: c.report.configMap },
    'creates',
    'the readiness report ConfigMap',
  );
  const project = { namespace: argo, name: c.environments.project };
  add('environments.project', 'AppProject', project, 'creates', "the environments' AppProject");
  environmentsOf(c).forEach((env) => {
    const i = c.environments.namespaces.findIndex((n) => n.name === env.namespace);
    add(
      env.logging ? 'environments.logging.namespace' : `environments.namespaces[${i}]`,
      'Application',
      { namespace: argo, name: env.applicationName },
      'creates',
      `the Application of environment "${env.namespace}" (environments.applicationName)`,
    );
  });
  // Fixed names: never configurable, always "creates" (the program's own, or Argo CD's install).
  const fixed = (kind: NamedObject['kind'], namespace: string, name: string, role: string) =>
    add('', kind, { namespace, name }, 'creates', role);
  fixed('ConfigMap', runNamespace, FIXED_NAMES.inventoryConfigMap, "the bootstrap's inventory");
  fixed('Secret', argo, FIXED_NAMES.repositorySecret, "the bootstrap's Argo CD repository Secret");
  for (const name of FIXED_NAMES.argocdSecrets) fixed('Secret', argo, name, "Argo CD's own Secret");
  for (const name of FIXED_NAMES.argocdConfigMaps) fixed('ConfigMap', argo, name, "Argo CD's own ConfigMap");
  fixed('AppProject', argo, FIXED_NAMES.argocdProject, "Argo CD's default AppProject");
  return out;
}

const where = (ns: string) => (ns === RUN ? 'the namespace the bootstrap runs in' : `namespace ${ns}`);

/**
 * Two objects of one kind, namespace and name where at least one is created by the program: one write would
 * erase the other (the inventory lost: nothing is ever pruned again). Reading one Secret for two purposes is
 * fine. Without `runNamespace`, names that default to the run's namespace are compared with each other only.
 */
export function nameCollisions(c: Config, runNamespace?: string): ConfigProblem[] {
  const objects = namedObjects(c, runNamespace ?? RUN);
  const problems: ConfigProblem[] = [];
  const reported = new Set<string>();
  for (let i = 0; i < objects.length; i++) {
    const a = objects[i]!;
    for (let j = 0; j < objects.length; j++) {
      const b = objects[j]!;
      if (i === j || !a.path || a.kind !== b.kind || a.namespace !== b.namespace || a.name !== b.name)
        continue;
      if (a.use !== 'creates' && b.use !== 'creates') continue;
      if (b.path && j < i) continue; // each configurable pair once, at the first key
      if (b.path === a.path) continue; // one key naming one object twice cannot collide with itself
      const key = `${a.path}\n${b.path || b.role}`;
      if (reported.has(key)) continue;
      reported.add(key);
      const other = b.path ? `${b.role} (${b.path})` : b.role;
      problems.push({
        path: a.path,
        message: `"${a.name}" is also ${other}, a ${a.kind} in ${where(a.namespace)}: one write would erase the other; give ${a.role} a name of its own`,
      });
    }
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------------------
// Generated names and label values within Kubernetes' limits

/**
 * The `argocdapp` namespace label carries the Application's name when it does not follow the
 * `seldon-gitops-<namespace>` convention: a label value (≤ 63 characters), not only a name.
 */
export function applicationLabelValues(c: Pick<Config, 'environments'>): ConfigProblem[] {
  for (const env of environmentsOf(c)) {
    if (env.applicationName === `seldon-gitops-${env.namespace}`) continue;
    if (isLabelValue(env.applicationName)) continue;
    return [
      {
        path: 'environments.applicationName',
        message: `gives "${env.applicationName}" (${env.applicationName.length} characters) for namespace "${env.namespace}", which the namespace's argocdapp label carries: a label value is at most 63 letters, digits, '-', '_' and '.'; use a shorter name`,
      },
    ];
  }
  return [];
}

/** The `git-repo` annotation carries git.repoUrl: keep it far below the API server's annotation limit. */
export const REPO_URL_MAX = 2048;
export function annotationSizes(c: Pick<Config, 'git'>): ConfigProblem[] {
  if (c.git.repoUrl.length <= REPO_URL_MAX) return [];
  return [
    {
      path: 'git.repoUrl',
      message: `is ${c.git.repoUrl.length} characters; at most ${REPO_URL_MAX} (it is written into each environment namespace's git-repo annotation): use the repository's plain URL`,
    },
  ];
}

// ---------------------------------------------------------------------------------------------------------
// Strings written into Argo CD's policy CSV and oidc.config

/**
 * A map key as a segment of a dot path: bare when it is a plain key, JSON-quoted when it holds anything else
 * (a group name with a space, a comma or a line break stays one readable segment on one line).
 */
export function pathKey(key: string): string {
  return /^[\w./-]+$/.test(key) ? key : JSON.stringify(key);
}

/** C0/C1 control characters and Unicode line/paragraph separators: YAML and CSV read them as structure. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

export function hasControlCharacter(s: string): boolean {
  return CONTROL.test(s);
}

/**
 * One field of Argo CD's policy CSV (Go's encoding/csv, leading spaces trimmed): quoted, with `"` doubled,
 * when it holds a comma, a quote or leading/trailing spaces; bare otherwise (so ordinary lines stay as the
 * seed wrote them). Control characters are refused by `policyStrings` before this runs.
 */
export function csvField(s: string): string {
  return /[",]|^\s|\s$/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/** SSO group names (policy.csv) and the strings of oidc.config: no line breaks or control characters. */
export function policyStrings(c: Pick<Config, 'argocd'>): ConfigProblem[] {
  const sso = c.argocd.sso;
  const problems: ConfigProblem[] = [];
  const refuse = (path: string, what: string) =>
    problems.push({
      path,
      message: `holds a line break or control character, which would end ${what} early or start a new one: remove it`,
    });
  for (const group of Object.keys(sso.groups)) {
    if (hasControlCharacter(group)) refuse(`argocd.sso.groups.${pathKey(group)}`, 'the policy.csv rule');
    else if (group.trim() === '')
      problems.push({
        path: `argocd.sso.groups.${pathKey(group)}`,
        message: 'is blank: write the group name as the groups claim carries it',
      });
  }
  if (hasControlCharacter(sso.name)) refuse('argocd.sso.name', 'the oidc.config entry');
  if (sso.clientID !== undefined && hasControlCharacter(sso.clientID))
    refuse('argocd.sso.clientID', 'the oidc.config entry');
  sso.scopes.forEach((s, i) => {
    if (hasControlCharacter(s)) refuse(`argocd.sso.scopes[${i}]`, 'the oidc.config entry');
  });
  return problems;
}

// ---------------------------------------------------------------------------------------------------------
// The rules, and the classes for the reliability table

export interface InputRule {
  needs: readonly (keyof Config)[];
  check: (config: Config) => ConfigProblem[];
}

export const INPUT_RULES: readonly InputRule[] = [
  { needs: ['argocd', 'seldonDeploy', 'environments'], check: (c) => reservedNamespaces(c) },
  {
    needs: ['argocd', 'git', 'environments', 'seldonDeploy', 'webhooks', 'report'],
    check: (c) => nameCollisions(c),
  },
  { needs: ['environments'], check: applicationLabelValues },
  { needs: ['git'], check: annotationSizes },
  { needs: ['argocd'], check: policyStrings },
];

/** What only the running process knows: the run's namespace, against environments and default-namespaced names. */
export function runNamespaceProblems(c: Config, runNamespace: string): ConfigProblem[] {
  return [...reservedNamespaces(c, runNamespace), ...nameCollisions(c, runNamespace)].filter(
    (p, i, all) => all.findIndex((q) => q.path === p.path && q.message === p.message) === i,
  );
}

/** The classes of input refused before the first write, for docs/reliability.md. */
export const INPUT_CLASSES = [
  { id: 'yaml-limits', title: 'YAML size, alias and depth limits (before the document is walked)' },
  { id: 'schema', title: 'wrong types, unknown keys, malformed names (the schema)' },
  { id: 'name-collisions', title: "names colliding with the bootstrap's own objects or with each other" },
  { id: 'reserved-namespaces', title: 'namespaces that must never be environments' },
  { id: 'generated-names', title: 'every generated name and label value within Kubernetes limits' },
  { id: 'policy-strings', title: 'strings written into policy.csv and oidc.config quoted or refused' },
  { id: 'chart-values', title: 'chart values reach the rendered manifests as data' },
] as const;
