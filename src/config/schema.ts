/**
 * The configuration schema: the single source of truth for the config file's shape, defaults and key
 * documentation. The normalised output is `Config` (types.ts); `configJsonSchema()` feeds the chart's
 * values.schema.json and `describeConfig()` the configuration reference (docs/configuration.md), so all three agree.
 *
 * Conventions: every object is strict (a typo is an error, not a silently ignored key); every key has a
 * description and either a default, `.optional()`, or is required (git.repoUrl, environments.namespaces).
 * Object and duration defaults use `.prefault()`: zod 4's `.default()` returns its value without parsing it,
 * so `{}` would not fill the nested defaults and "10m" would not become milliseconds; `.prefault()` parses
 * the default like user input, and is what the input JSON Schema shows as `default`.
 */
import { z } from 'zod';
import { DEFAULT_ARGOCD_VERSION } from './bundled.ts';
import { ARGOCD_COMPONENTS } from './components.ts';
import { DURATION_HINT, DURATION_PATTERN, parseDuration } from './duration.ts';
import { mapKeyProblem, repositoryProblem } from './image-refs.ts';
import { GIT_URL, repoUrlMessage } from './urls.ts';
import { WEBHOOK_PROVIDERS } from './webhook-providers.ts';

// ---------------------------------------------------------------------------------------------------------
// Field types

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const SECRET_KEY = /^[-._a-zA-Z0-9]+$/;
const VERSION = /^v\d+\.\d+\.\d+$/;
const SHA256 = /^[0-9a-fA-F]{64}$/;
const ROOT_PATH = /^\/[^\s?#]*$/;
const GATEWAY = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?\/[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
// No look-arounds in patterns: they end up in values.schema.json, which Helm checks with Go's RE2.
// owner/name, or GitLab's group/subgroup/…/project: segments without spaces, no leading or trailing '/'.
const REPOSITORY = /^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)+$/;

export const labelHint = (example: string): string =>
  `must be a DNS-1123 label (lowercase letters, digits and '-', at most 63 characters, e.g. "${example}")`;
export const subdomainHint = (example: string): string =>
  `must be a DNS-1123 subdomain (lowercase letters, digits, '-' and '.', at most 253 characters, e.g. "${example}")`;

export function isDnsLabel(s: string): boolean {
  return s.length <= 63 && DNS1123_LABEL.test(s);
}
export function isDnsSubdomain(s: string): boolean {
  return s.length <= 253 && DNS1123_SUBDOMAIN.test(s);
}

/** A namespace name (Kubernetes requires a DNS-1123 label). */
const dnsLabel = (example: string) =>
  z.string().max(63, labelHint(example)).regex(DNS1123_LABEL, labelHint(example));

/** The name of a Secret, ConfigMap, AppProject… (a DNS-1123 subdomain). */
const dnsSubdomain = (example: string) =>
  z.string().max(253, subdomainHint(example)).regex(DNS1123_SUBDOMAIN, subdomainHint(example));

/** A key inside a Secret's data. */
const secretKey = (example: string) =>
  z
    .string()
    .max(253)
    .regex(SECRET_KEY, `must be a Secret data key (letters, digits, '-', '_' and '.', e.g. "${example}")`);

/** Schemas that are durations; `describeConfig()` names their type "duration". */
const durationSchemas = new WeakSet<z.ZodType>();

/** "10m", "90s", "1h30m" or a number of seconds → milliseconds. */
function duration(defaultValue: string) {
  const input = z.union(
    [z.string().regex(DURATION_PATTERN, DURATION_HINT), z.number().positive(DURATION_HINT)],
    { error: (iss) => (iss.code === 'invalid_union' ? DURATION_HINT : undefined) },
  );
  durationSchemas.add(input);
  return input
    .transform((v, ctx) => {
      const ms = parseDuration(v);
      if (ms === undefined) {
        ctx.issues.push({ code: 'custom', message: DURATION_HINT, input: v });
        return z.NEVER;
      }
      return ms;
    })
    .prefault(defaultValue);
}

/** A Secret or ConfigMap key holding CA certificates (git.caBundle). */
const caBundleRef = (kind: 'Secret' | 'ConfigMap') =>
  z
    .strictObject({
      name: dnsSubdomain('git-ca').describe(`Name of the ${kind}.`),
      key: secretKey('ca.crt').default('ca.crt').describe(`Key of the PEM bundle in the ${kind}.`),
      namespace: z
        .string()
        .max(63, labelHint('seldon-system'))
        .regex(DNS1123_LABEL, labelHint('seldon-system'))
        .optional()
        .describe(`Namespace of the ${kind}. Default: the namespace the bootstrap runs in (POD_NAMESPACE).`),
    })
    .describe(`The ${kind} holding the CA bundle.`);

const quantity = z.union([
  z.string().regex(/^[0-9.]+[a-zA-Z]*$/, 'must be a quantity, e.g. "500m" or "1Gi"'),
  z.number(),
]);

/** One Argo CD workload's settings. */
function componentSettings(name: string) {
  return z
    .strictObject({
      replicas: z.number().int().min(0).optional().describe('Replicas (`spec.replicas`).'),
      resources: z
        .strictObject({
          requests: z
            .record(z.string(), quantity)
            .optional()
            .describe('Resource requests, e.g. {cpu: 250m, memory: 256Mi}.'),
          limits: z.record(z.string(), quantity).optional().describe('Resource limits.'),
        })
        .optional()
        .describe("Resources of the component's container (replace the manifest's)."),
      nodeSelector: z
        .record(z.string(), z.string())
        .optional()
        .describe("Node selector of its pods (added to the manifest's)."),
      tolerations: z
        .array(
          z.strictObject({
            key: z.string().optional(),
            operator: z.enum(['Exists', 'Equal']).optional(),
            value: z.string().optional(),
            effect: z.enum(['NoSchedule', 'PreferNoSchedule', 'NoExecute']).optional(),
            tolerationSeconds: z.number().int().optional(),
          }),
        )
        .optional()
        .describe("Tolerations of its pods (added to the manifest's)."),
      extraArgs: z.array(z.string()).optional().describe("Arguments appended to its container's args."),
      env: z
        .array(
          z.strictObject({
            name: z.string().regex(/^[-._a-zA-Z][-._a-zA-Z0-9]*$/, 'must be an environment variable name'),
            value: z.string(),
          }),
        )
        .optional()
        .describe('Environment variables of its container (replacing any of the same name).'),
    })
    .describe(`Settings of ${name}.`);
}

/** A refinement from a function that says what is wrong with a value (undefined: nothing). */
function refProblem(problem: (value: string) => string | undefined) {
  return (value: string, ctx: z.RefinementCtx) => {
    const message = problem(value);
    if (message) ctx.addIssue({ code: 'custom', message });
  };
}

/** Extra string keys of one of Argo CD's ConfigMaps. */
function settingsMap(configMap: string, example: string) {
  return z
    .record(
      z.string().regex(/^[-._a-zA-Z0-9]+$/, 'must be a ConfigMap key'),
      z.string({ error: 'must be a string (quote numbers and booleans)' }),
    )
    .default(() => ({}))
    .describe(`Extra keys of ${configMap} (${example}).`);
}

/** argocd-cm's extra keys: also `null`, which removes a key the bootstrap writes by default. */
const argocdCmSettings = z
  .record(
    z.string().regex(/^[-._a-zA-Z0-9]+$/, 'must be a ConfigMap key'),
    z.union([z.string(), z.null()], {
      error: 'must be a string (quote numbers and booleans), or null to remove a key the bootstrap sets',
    }),
  )
  .default(() => ({}))
  .describe(
    "Extra keys of argocd-cm (e.g. `resource.customizations.ignoreDifferences.all`, `timeout.reconciliation`). The bootstrap sets Argo CD health checks for Seldon's SeldonDeployment, Model, Pipeline and Experiment (`resource.customizations.health.machinelearning.seldon.io_SeldonDeployment`, `resource.customizations.health.mlops.seldon.io_<Kind>`): a key of the same name replaces one, `null` removes it.",
  );

const secretRefNamespace = z
  .string()
  .max(63, labelHint('seldon-system'))
  .regex(DNS1123_LABEL, labelHint('seldon-system'))
  .optional()
  .describe('Namespace of the Secret. Default: the namespace the bootstrap runs in (POD_NAMESPACE).');

// The Application's sync policy: environments.<key> for every environment, environments.namespaces[].<key> for one.
const syncPrune = z
  .boolean()
  .describe(
    "Argo CD's automated sync prunes: a resource whose file is removed from Git (a model deleted in Seldon Deploy) is deleted from the cluster. false (the seed's `automated: {}`): it keeps running.",
  );
const syncSelfHeal = z
  .boolean()
  .describe(
    "Argo CD's automated sync self-heals: a change made in the cluster by hand is reverted to Git. false (the seed's): it stays until the next change in Git.",
  );
const targetRevision = z
  .string()
  .regex(/^\S+$/, 'must be a branch, tag or commit, e.g. "main"')
  .describe(
    "The Git revision the Application syncs (a branch, tag or commit). Unset: Argo CD's default, HEAD.",
  );
const syncOptions = z
  .array(
    z
      .string()
      .regex(
        /^[A-Za-z]+=\S+$/,
        'must be an Argo CD sync option Name=value, e.g. "CreateNamespace=false" or "ServerSideApply=true"',
      ),
  )
  .describe(
    "The Application's `syncPolicy.syncOptions`, e.g. `[ServerSideApply=true]` (Argo CD's sync options).",
  );

// Batch jobs (Seldon's "Argo Workflows — Per Namespace Setup"): environments.batch for all, namespaces[].batch for one.
const batchRule = z
  .strictObject({
    apiGroups: z.array(z.string()).min(1).describe('API groups ("" is the core group).'),
    resources: z.array(z.string().min(1)).min(1).describe('Resources, e.g. pods, pods/log, "*".'),
    verbs: z.array(z.string().min(1)).min(1).describe('Verbs, e.g. "*".'),
  })
  .describe('One rule of the `workflow` Role.');

/** The `workflow` Role's rules exactly as Seldon's documentation gives them. */
export const SELDON_WORKFLOW_RULES = [
  { apiGroups: [''], resources: ['pods'], verbs: ['*'] },
  { apiGroups: ['apps'], resources: ['deployments'], verbs: ['*'] },
  { apiGroups: [''], resources: ['pods/log'], verbs: ['*'] },
  { apiGroups: ['machinelearning.seldon.io'], resources: ['*'], verbs: ['*'] },
];

const batchSchema = z
  .strictObject({
    enabled: z
      .boolean()
      .default(false)
      .describe(
        "Set up batch jobs in every environment (the logging namespace aside): the `workflow` Role, ServiceAccount and RoleBinding of Seldon's Argo Workflows per-namespace setup, and the storage-initializer Secret. An environment's own `batch` overrides it.",
      ),
    rules: z
      .array(batchRule)
      .min(1)
      .default(() => SELDON_WORKFLOW_RULES.map((r) => ({ ...r })))
      .describe(
        "Rules of the `workflow` Role. Default: Seldon's documented ones (`*` on pods, pods/log, apps/deployments and machinelearning.seldon.io/*).",
      ),
    storageSecret: z
      .strictObject({
        secretRef: z
          .strictObject({
            name: dnsSubdomain('seldon-bucket').describe(
              'Name of the source Secret (its `RCLONE_CONFIG_<remote>_<var>` keys); the copy in each environment has the same name.',
            ),
            namespace: secretRefNamespace,
          })
          .describe('The source Secret.'),
      })
      .optional()
      .describe(
        'The storage-initializer Secret batch jobs read their buckets with: copied from this Secret into each batch environment with Seldon\'s labels `secret-type: bucket` and `seldon-deploy: "true"` (its values are never logged). Unset: no Secret is copied.',
      ),
  })
  .prefault({})
  .describe('Batch jobs (Seldon Deploy runs them with Argo Workflows, installed separately).');

const namespaceObject = z
  .strictObject({
    name: dnsLabel('staging').describe('The namespace (created if missing).'),
    restricted: z
      .boolean()
      .default(false)
      .describe(
        "Value of the namespace label `seldon.restricted`: false (the seed's) shows the namespace to every Seldon Deploy user; true only to the users and groups its `seldon.user.*`/`seldon.group.*` labels or authorization policies grant.",
      ),
    prune: syncPrune.optional().describe("This environment's environments.prune."),
    selfHeal: syncSelfHeal.optional().describe("This environment's environments.selfHeal."),
    targetRevision: targetRevision
      .optional()
      .describe(
        "This environment's Git revision (e.g. its own branch); default environments.targetRevision.",
      ),
    syncOptions: syncOptions
      .optional()
      .describe("This environment's sync options, replacing environments.syncOptions."),
    batch: z
      .boolean()
      .optional()
      .describe('Set up batch jobs in this environment; default environments.batch.enabled.'),
  })
  .describe('A namespace with its settings.');

/** `- staging` or `- {name: staging, restricted: false}`, normalised to the object form. */
const namespaceEntry = z.union(
  [
    dnsLabel('staging')
      .transform((name): z.output<typeof namespaceObject> => ({ name, restricted: false }))
      .describe('A namespace name; the environment is open to every Seldon Deploy user (restricted: false).'),
    namespaceObject,
  ],
  {
    error: (iss) =>
      iss.code === 'invalid_union'
        ? 'must be a namespace name (e.g. "staging") or an object {name, restricted}'
        : undefined,
  },
);

// ---------------------------------------------------------------------------------------------------------
// The schema

export const configSchema = z
  .strictObject({
    argocd: z
      .strictObject({
        namespace: dnsLabel('argocd')
          .default('argocd')
          .describe('Namespace Argo CD is installed into (created if missing).'),
        version: z
          .string()
          .regex(VERSION, 'must be an Argo CD release tag with the leading "v", like "v3.5.1"')
          .default(DEFAULT_ARGOCD_VERSION)
          .describe(
            'Argo CD release to install. Supported: 2.14.x and 3.x except v3.6.0. With source `bundled` it must be a version the image bundles.',
          ),
        install: z
          .strictObject({
            source: z
              .enum(['bundled', 'file', 'url', 'skip'])
              .default('bundled')
              .describe(
                'Where the install manifest comes from: `bundled` (shipped in the image), `file`, `url`, or `skip` (Argo CD is managed elsewhere; only configure it).',
              ),
            file: z
              .string()
              .min(1, 'must be a file path')
              .optional()
              .describe(
                "Path of the install manifest (source `file`). A relative path is resolved against the config file's directory.",
              ),
            url: z
              .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
              .optional()
              .describe('URL of the install manifest (source `url`; `sha256` is then required).'),
            sha256: z
              .string()
              .regex(
                SHA256,
                'must be a sha256 checksum: 64 hexadecimal characters (the output of `sha256sum install.yaml`)',
              )
              .toLowerCase()
              .optional()
              .describe(
                'Expected sha256 of the manifest: required with source `url`, optional with `file` (set, the file is installed only if it matches).',
              ),
            profile: z
              .enum(['standard', 'ha'])
              .optional()
              .describe(
                "Which of Argo CD's bundled manifests (source `bundled`): `standard` (manifests/install.yaml, also when unset) or `ha` (manifests/ha/install.yaml: several replicas, Redis HA with Sentinel and HAProxy, pod anti-affinity by node: needs three nodes). Switching a running install is supported: the next run applies the other manifest and deletes what it no longer has (Redis is Argo CD's cache; Applications and settings stay).",
              ),
          })
          .prefault({})
          .describe('How Argo CD is installed.'),
        images: z
          .strictObject({
            registry: z
              .string()
              .superRefine(refProblem((v) => repositoryProblem(v, 'prefix')))
              .optional()
              .describe(
                'Registry (and path prefix) every container image of the installed manifest is pulled from instead of its own registry, e.g. `registry.example.com/mirror`: `quay.io/argoproj/argocd:v3.5.1` becomes `registry.example.com/mirror/argoproj/argocd:v3.5.1` (the repository path, tag and digest kept). No scheme, no tag.',
              ),
            map: z
              .record(
                z.string(),
                z.string().superRefine(refProblem((v) => repositoryProblem(v, 'repository'))),
              )
              .superRefine((map, ctx) => {
                for (const key of Object.keys(map)) {
                  const message = mapKeyProblem(key);
                  if (message) ctx.addIssue({ code: 'custom', path: [key], message });
                }
              })
              .default(() => ({}))
              .describe(
                "Per-image repositories for a mirror that renames: the manifest's repository (no tag) → the one to pull, e.g. `quay.io/argoproj/argocd: registry.example.com/platform/argocd`. Wins over `registry`; tags and digests kept.",
              ),
            pullSecrets: z
              .array(dnsSubdomain('registry-creds'))
              .default(() => [])
              .describe(
                'Secrets of type kubernetes.io/dockerconfigjson in argocd.namespace, added as `imagePullSecrets` to every pod template of the installed manifest (the bootstrap does not create them). `kubectl -n argocd create secret docker-registry …`.',
              ),
          })
          .prefault({})
          .describe(
            "Where Argo CD's images come from: a site's own registry or mirror (air-gapped installs). Only when the bootstrap installs Argo CD; `images` prints the resulting list.",
          ),
        adminPassword: z
          .strictObject({
            secretRef: z
              .strictObject({
                name: dnsSubdomain('argocd-admin-password')
                  .default('argocd-admin-password')
                  .describe('Name of the Secret holding the admin password.'),
                key: secretKey('password')
                  .default('password')
                  .describe('Key of the password in that Secret.'),
                namespace: secretRefNamespace,
              })
              .prefault({})
              .describe('The Secret holding the Argo CD admin password.'),
            generate: z
              .boolean()
              .default(true)
              .describe(
                'When the Secret does not exist: generate a password once and store it there. false: the Secret must exist.',
              ),
          })
          .prefault({})
          .describe(
            'The Argo CD admin password (stored bcrypt-hashed in argocd-secret; changed only when it differs).',
          ),
        server: z
          .strictObject({
            insecure: z
              .boolean()
              .default(true)
              .describe('Serve plain HTTP (TLS terminated by the Istio gateway): `server.insecure`.'),
            rootPath: z
              .string()
              .regex(ROOT_PATH, 'must be a URL path starting with \'/\', e.g. "/argocd"')
              .default('/argocd')
              .describe('Sub-path Argo CD is served under: `server.rootpath`.'),
          })
          .prefault({})
          .describe('argocd-server settings (argocd-cmd-params-cm).'),
        url: z
          .url({
            protocol: /^https?$/,
            error: 'must be an http(s) URL, e.g. "https://deploy.example.com/argocd"',
          })
          .optional()
          .describe(
            "Argo CD's URL as people's browsers reach it, root path included (e.g. https://deploy.example.com/argocd): argocd-cm `url`. Argo CD builds the SSO redirect URI from it (`<url>/auth/callback`). Required with argocd.sso.enabled.",
          ),
        virtualService: z
          .strictObject({
            enabled: z
              .union([z.literal('auto'), z.boolean()], {
                error: (iss) => (iss.code === 'invalid_union' ? 'must be "auto", true or false' : undefined),
              })
              .default('auto')
              .describe(
                'Create an Istio VirtualService routing the root path to argocd-server. `auto`: only when the VirtualService CRD exists.',
              ),
            gateway: z
              .string()
              .regex(
                GATEWAY,
                'must be "namespace/name" of an Istio Gateway, e.g. "istio-system/seldon-gateway"',
              )
              .default('istio-system/seldon-gateway')
              .describe('The Istio Gateway, as namespace/name.'),
            hosts: z
              .array(z.string().regex(/^\S+$/, 'must be a host name or "*"'))
              .min(1, 'must list at least one host, e.g. ["*"]')
              .default(() => ['*'])
              .describe('Hosts the VirtualService matches.'),
          })
          .prefault({})
          .describe('Istio VirtualService exposing Argo CD.'),
        rolloutTimeout: duration('10m').describe(
          'How long to wait for every Argo CD Deployment and StatefulSet to roll out ("10m", "90s", "1h30m" or seconds).',
        ),
        settings: z
          .strictObject({
            cm: argocdCmSettings,
            cmdParams: settingsMap(
              'argocd-cmd-params-cm',
              'e.g. `controller.status.processors`; not `server.insecure`/`server.rootpath` (argocd.server)',
            ),
            rbac: settingsMap('argocd-rbac-cm', 'e.g. `policy.default: role:readonly`, `policy.csv`'),
          })
          .prefault({})
          .describe(
            "Extra keys of Argo CD's ConfigMaps, applied with the install (same server-side apply, same field manager). Only these keys are the bootstrap's: other keys, and edits to them, stay.",
          ),
        components: z
          .partialRecord(z.enum(ARGOCD_COMPONENTS), componentSettings('the component'))
          .default(() => ({}))
          .describe(
            "Argo CD's workloads shaped to the site, by name (argocd-server, argocd-repo-server, argocd-application-controller, argocd-applicationset-controller, argocd-dex-server, argocd-redis, argocd-notifications-controller; with profile `ha`: argocd-redis-ha-server, argocd-redis-ha-haproxy instead of argocd-redis): replicas, resources, nodeSelector, tolerations, extraArgs, env — changed in the install manifest before it is applied. Only when the bootstrap installs Argo CD.",
          ),
        sso: z
          .strictObject({
            enabled: z
              .boolean()
              .default(false)
              .describe('Log in to Argo CD through an OpenID Connect provider.'),
            name: z.string().min(1).default('SSO').describe('Name of the provider on the login button.'),
            issuer: z
              .url({
                protocol: /^https$/,
                error: 'must be an https URL, e.g. "https://sso.example.com/realms/acme"',
              })
              .optional()
              .describe(
                "The provider's issuer URL (its /.well-known/openid-configuration is read by Argo CD).",
              ),
            clientID: z.string().min(1).optional().describe('The OIDC client ID registered for Argo CD.'),
            clientSecret: z
              .strictObject({
                secretRef: z
                  .strictObject({
                    name: dnsSubdomain('argocd-oidc')
                      .default('argocd-oidc')
                      .describe(
                        'Secret in the Argo CD namespace holding the client secret (labelled app.kubernetes.io/part-of=argocd by the bootstrap, as Argo CD requires).',
                      ),
                    key: secretKey('clientSecret')
                      .default('clientSecret')
                      .describe('Key of the client secret.'),
                  })
                  .prefault({})
                  .describe(
                    'Where the client secret is; written into oidc.config as `$<name>:<key>`, never as a value.',
                  ),
              })
              .prefault({})
              .describe('The OIDC client secret, by reference.'),
            rootCA: z
              .string()
              .regex(
                /^\s*-----BEGIN CERTIFICATE-----[\s\S]+-----END CERTIFICATE-----\s*$/,
                'must be PEM certificates ("-----BEGIN CERTIFICATE-----" …)',
              )
              .optional()
              .describe(
                "PEM of the CA that signed the provider's TLS certificate, when it is not a public one (oidc.config `rootCA`; a certificate, not a secret).",
              ),
            scopes: z
              .array(z.string().regex(/^\S+$/, 'must be a scope name, e.g. "groups"'))
              .default(() => ['openid', 'profile', 'email', 'groups'])
              .describe('Scopes requested from the provider (`requestedScopes`).'),
            groups: z
              .record(
                z.string().min(1),
                z
                  .string()
                  .regex(
                    /^role:[A-Za-z0-9_.-]+$/,
                    'must be an Argo CD role, e.g. "role:admin" or "role:readonly"',
                  ),
              )
              .default(() => ({}))
              .describe(
                'Group (from the `groups` claim) → Argo CD role, written as `g, <group>, <role>` lines of argocd-rbac-cm policy.csv (after any of argocd.settings.rbac).',
              ),
            disableAdmin: z
              .boolean()
              .default(false)
              .describe('Disable the local admin user (`admin.enabled: "false"`) — once SSO works.'),
          })
          .prefault({})
          .describe('Single sign-on through OpenID Connect: argocd-cm `oidc.config` and argocd-rbac-cm.'),
        allowDowngrade: z
          .boolean()
          .default(false)
          .describe(
            'Allow installing an Argo CD version of a lower major version than the one installed (refused by default: Argo CD migrates its state forward only).',
          ),
      })
      .prefault({})
      .describe('Argo CD installation and settings.'),
    git: z
      .strictObject(
        {
          repoUrl: z
            .string({
              error: (iss) =>
                iss.input === undefined
                  ? 'required: the GitOps repository, e.g. "ssh://git@git.example.com/acme/gitops.git"'
                  : undefined,
            })
            .regex(GIT_URL, { error: (iss) => repoUrlMessage(iss.input) })
            .describe(
              "The GitOps repository (ssh://, https://, http:// with git.allowInsecureHttp, or scp-like git@host:path). Used verbatim as the Applications' repoURL: no credential in it (they go in the credentials Secret).",
            ),
          credentials: z
            .strictObject({
              secretRef: z
                .strictObject({
                  name: dnsSubdomain('gitops-source-creds')
                    .default('gitops-source-creds')
                    .describe(
                      'Name of the Secret with the Git credentials: `ssh-privatekey` + `known_hosts` (+ `passphrase`), or `username` + `password` (a token); optional `email`.',
                    ),
                  namespace: secretRefNamespace,
                })
                .prefault({})
                .describe('The source Secret the Argo CD and Seldon Deploy credentials are made from.'),
            })
            .prefault({})
            .describe('Git credentials.'),
          caBundle: z
            .strictObject({
              secretRef: caBundleRef('Secret').optional(),
              configMapRef: caBundleRef('ConfigMap').optional(),
            })
            .refine((v) => (v.secretRef === undefined) !== (v.configMapRef === undefined), {
              message: 'set exactly one of secretRef or configMapRef',
            })
            .optional()
            .describe(
              "CA certificates (PEM) that sign the HTTPS Git server's certificate, for a server behind a private or corporate CA: trusted by the repository check and written for Argo CD into argocd-tls-certs-cm under the repository's host. Unset: the system CAs. One of secretRef or configMapRef.",
            ),
          allowInsecureHttp: z
            .boolean()
            .default(false)
            .describe(
              'Allow a plain http:// git.repoUrl: the user name and token of the credentials Secret then cross the network unencrypted. Only for test setups.',
            ),
          verify: z
            .boolean()
            .default(true)
            .describe(
              "Check that the repository is reachable and each environment's folder exists and is not empty.",
            ),
          verifyWrite: z
            .boolean()
            .default(true)
            .describe(
              "With verify: also check that the credentials may push (Seldon Deploy commits and pushes every model): git's push handshake (receive-pack), which the server refuses for a read-only key or token; nothing is pushed, no ref is made. false: read access only.",
            ),
        },
        { error: (iss) => (iss.input === undefined ? 'required: at least git.repoUrl' : undefined) },
      )
      .describe('The GitOps repository Argo CD syncs from.'),
    environments: z
      .strictObject(
        {
          project: dnsSubdomain('seldon')
            .default('seldon')
            .describe('The Argo CD AppProject of the environments.'),
          namespaces: z
            .array(namespaceEntry, {
              error: (iss) =>
                iss.input === undefined ? 'required: list at least one namespace, e.g. [staging]' : undefined,
            })
            .min(1, 'must list at least one namespace, e.g. [staging]')
            .describe(
              'The GitOps environments: one namespace each, synced from the folder of the same name in the repository. An entry is a name or {name, restricted, prune, selfHeal, targetRevision, syncOptions, batch}.',
            ),
          applicationName: z
            .string()
            .min(1)
            .default('seldon-gitops-{namespace}')
            .describe(
              "Name of each environment's Argo CD Application; `{namespace}` is replaced. Needed unless there is exactly one environment.",
            ),
          logging: z
            .strictObject({
              enabled: z
                .boolean()
                .default(true)
                .describe('Also make the logging namespace a GitOps environment.'),
              namespace: dnsLabel('seldon-logs').default('seldon-logs').describe('The logging namespace.'),
              restricted: z.boolean().default(false).describe('Value of its `seldon.restricted` label.'),
            })
            .prefault({})
            .describe('The Seldon logging namespace as an environment.'),
          waitForSync: z
            .boolean()
            .default(true)
            .describe(
              'Wait (up to syncTimeout) until each Application is Synced and Healthy, and require it for readiness. false: report it without requiring it.',
            ),
          syncTimeout: duration('5m').describe(
            'How long to wait for the Applications to sync when waitForSync is true ("5m", "90s" or seconds).',
          ),
          prune: syncPrune.default(false),
          selfHeal: syncSelfHeal.default(false),
          targetRevision: targetRevision.optional(),
          syncOptions: syncOptions.default(() => []),
          batch: batchSchema,
          deleteRemovedResources: z
            .boolean()
            .default(false)
            .describe(
              "When an environment leaves this list: also delete what its Application deployed (Argo CD's resources-finalizer). false: only the Application goes; the namespace and its workloads stay, without the GitOps labels and git-repo annotation.",
            ),
        },
        {
          error: (iss) =>
            iss.input === undefined ? 'required: at least environments.namespaces' : undefined,
        },
      )
      .describe('The GitOps environments (namespaces), their AppProject and Applications.'),
    seldonDeploy: z
      .strictObject({
        namespace: dnsLabel('seldon-system')
          .default('seldon-system')
          .describe('Namespace Seldon Deploy runs in (where its Git credentials Secret goes).'),
        gitCredentialsSecret: dnsSubdomain('git-creds')
          .default('git-creds')
          .describe('Name of the Secret Seldon Deploy reads its Git credentials from.'),
        sshKeyName: secretKey('id_rsa')
          .default('id_rsa')
          .describe('Key of the SSH private key in that Secret.'),
      })
      .prefault({})
      .describe("Seldon Deploy's copy of the Git credentials."),
    webhooks: z
      .strictObject({
        enabled: z
          .boolean()
          .default(false)
          .describe(
            'Register the Argo CD (and Seldon Deploy) webhooks with the Git provider, so a push syncs at once instead of at the next poll.',
          ),
        provider: z
          .enum(WEBHOOK_PROVIDERS)
          .optional()
          .describe(
            'The Git provider: `github` (github.com or Enterprise Server), `gitlab` (gitlab.com or self-hosted), `bitbucket` (Bitbucket Cloud). Required when enabled.',
          ),
        apiUrl: z
          .url({
            protocol: /^https?$/,
            error: 'must be an http(s) URL, e.g. "https://github.example.com/api/v3"',
          })
          .optional()
          .describe(
            "The provider's API. Default: https://api.github.com, https://gitlab.com/api/v4 or https://api.bitbucket.org/2.0; GitHub Enterprise Server: https://HOST/api/v3; self-hosted GitLab: https://HOST/api/v4.",
          ),
        repository: z
          .string()
          .regex(
            REPOSITORY,
            'must be the repository as the provider names it: "owner/name" (GitHub), "group/subgroup/project" (GitLab), "workspace/repo-slug" (Bitbucket)',
          )
          .optional()
          .describe(
            'The repository the hooks are registered on (`owner/name`, GitLab `group/…/project`, Bitbucket `workspace/slug`). Default: the path of git.repoUrl without `.git`.',
          ),
        token: z
          .strictObject({
            secretRef: z
              .strictObject({
                name: dnsSubdomain('git-webhook-token')
                  .default('git-webhook-token')
                  .describe(
                    'Name of the Secret holding the provider API token (hook-admin scope: see docs/webhooks.md). With Bitbucket, an optional `username` key makes it Basic authentication.',
                  ),
                key: secretKey('token').default('token').describe('Key of the token in that Secret.'),
                namespace: secretRefNamespace,
              })
              .prefault({})
              .describe('The Secret holding the token.'),
          })
          .prefault({})
          .describe('The provider API token that registers the hooks (never logged).'),
        argocdUrl: z
          .url({
            protocol: /^https?$/,
            error: 'must be an http(s) URL, e.g. "https://deploy.example.com/argocd/api/webhook"',
          })
          .optional()
          .describe(
            "Argo CD's webhook endpoint as the provider reaches it: the public URL of Argo CD plus `/api/webhook`, e.g. https://deploy.example.com/argocd/api/webhook. Required when enabled.",
          ),
        seldonDeployUrl: z
          .url({
            protocol: /^https?$/,
            error: 'must be an http(s) URL, e.g. "https://deploy.example.com/api/git-webhook"',
          })
          .optional()
          .describe(
            "Seldon Deploy's webhook endpoint as the provider reaches it, e.g. https://deploy.example.com/api/git-webhook. Unset: only the Argo CD hook is registered.",
          ),
        secretName: dnsSubdomain('sd-gitops-bootstrap-webhook')
          .default('sd-gitops-bootstrap-webhook')
          .describe(
            "Secret (in POD_NAMESPACE) where the generated Argo CD webhook secret and the registered hooks' ids are kept; its secret is also written to argocd-secret.",
          ),
        insecureSkipTlsVerify: z
          .boolean()
          .default(false)
          .describe(
            "Skip TLS certificate verification: the provider's when it delivers to the webhook URLs, and this program's when it calls apiUrl. Only for test setups; the report warns when true.",
          ),
      })
      .prefault({})
      .describe('Git provider webhooks for Argo CD and Seldon Deploy.'),
    report: z
      .strictObject({
        configMap: dnsSubdomain('sd-gitops-bootstrap-report')
          .default('sd-gitops-bootstrap-report')
          .describe('ConfigMap (in POD_NAMESPACE) the readiness report is written to, key `report.json`.'),
      })
      .prefault({})
      .describe('Where the readiness report goes.'),
  })
  .describe('sd-gitops-bootstrap configuration.');

/** JSON Schema of what a user may write (the input side: durations as strings, plain-string namespaces). */
export function configJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(configSchema, { io: 'input', target: 'draft-7' }) as Record<string, unknown>;
}

// ---------------------------------------------------------------------------------------------------------
// Walking the schema (docs and "did you mean")

interface Def {
  type: string;
  innerType?: z.ZodType;
  in?: z.ZodType;
  out?: z.ZodType;
  element?: z.ZodType;
  options?: z.ZodType[];
  shape?: Record<string, z.ZodType>;
  entries?: Record<string, string>;
  values?: unknown[];
  defaultValue?: unknown;
}

const defOf = (s: z.ZodType): Def => s._zod.def as unknown as Def;

/** The layers of one key's schema, outermost first: default → describe → pipe input → … → base type. */
function layers(schema: z.ZodType): z.ZodType[] {
  const out: z.ZodType[] = [];
  let s: z.ZodType | undefined = schema;
  while (s) {
    out.push(s);
    const d = defOf(s);
    if (d.innerType) s = d.innerType;
    else if (d.type === 'pipe') s = defOf(d.in!).type === 'transform' ? d.out : d.in;
    else s = undefined;
  }
  return out;
}

const base = (schema: z.ZodType): z.ZodType => layers(schema).at(-1)!;

/** The object option of a schema (an object, or a union with an object option such as a namespace entry). */
function objectOf(schema: z.ZodType): z.ZodType | undefined {
  const b = base(schema);
  const d = defOf(b);
  if (d.type === 'object') return b;
  if (d.type === 'union') return d.options!.map(objectOf).find((o) => o !== undefined);
  return undefined;
}

/** The keys the object at `path` (zod issue path) accepts, or [] when the path does not lead to an object. */
export function knownKeysAt(path: readonly PropertyKey[]): string[] {
  let s: z.ZodType | undefined = configSchema;
  for (const seg of path) {
    if (!s) return [];
    if (typeof seg === 'number') {
      const d = defOf(base(s));
      s = d.type === 'array' ? d.element : undefined;
    } else {
      s = objectOf(s);
      s = s ? defOf(s).shape![String(seg)] : undefined;
    }
  }
  const o = s && objectOf(s);
  return o ? Object.keys(defOf(o).shape!) : [];
}

export interface ConfigKeyDoc {
  /** Dot path; array elements are `[]`: `environments.namespaces[].name`. */
  path: string;
  /** "string", "boolean", "duration", `"bundled" | "file"`, "string[]", "object"… */
  type: string;
  /** The default as written in YAML (input form: "10m", not 600000); undefined when there is none. */
  default: unknown;
  required: boolean;
  description: string;
}

function typeName(schema: z.ZodType): string {
  const ls = layers(schema);
  if (ls.some((l) => durationSchemas.has(l))) return 'duration';
  const d = defOf(ls.at(-1)!);
  switch (d.type) {
    case 'enum':
      return Object.values(d.entries!)
        .map((v) => JSON.stringify(v))
        .join(' | ');
    case 'literal':
      return d.values!.map((v) => JSON.stringify(v)).join(' | ');
    case 'union':
      return d.options!.map(typeName).join(' | ');
    case 'array': {
      const el = typeName(d.element!);
      return el.includes('|') ? `(${el})[]` : `${el}[]`;
    }
    default:
      return d.type;
  }
}

function descriptionOf(schema: z.ZodType): string {
  for (const l of layers(schema)) {
    const text = z.globalRegistry.get(l)?.description;
    if (text) return text;
  }
  return '';
}

function defaultOf(schema: z.ZodType): { has: boolean; value: unknown; optional: boolean } {
  for (const l of layers(schema)) {
    const d = defOf(l);
    if (d.type === 'default' || d.type === 'prefault')
      return { has: true, value: d.defaultValue, optional: true };
    if (d.type === 'optional') return { has: false, value: undefined, optional: true };
  }
  return { has: false, value: undefined, optional: false };
}

/** Every key of the config, depth first, for the configuration reference (docs/configuration.md). */
export function describeConfig(): ConfigKeyDoc[] {
  const rows: ConfigKeyDoc[] = [];
  const walkObject = (obj: z.ZodType, prefix: string): void => {
    for (const [key, child] of Object.entries(defOf(obj).shape!)) {
      walk(child, prefix ? `${prefix}.${key}` : key);
    }
  };
  const walk = (schema: z.ZodType, path: string): void => {
    const dflt = defaultOf(schema);
    const b = base(schema);
    const d = defOf(b);
    const isObject = d.type === 'object';
    rows.push({
      path,
      type: typeName(schema),
      // An object's default is `{}` (its keys' defaults apply): nothing worth printing.
      default: isObject ? undefined : dflt.value,
      required: !dflt.optional,
      description: descriptionOf(schema),
    });
    if (isObject) walkObject(b, path);
    if (d.type === 'array') {
      const el = objectOf(d.element!);
      if (el) walkObject(el, `${path}[]`);
    }
  };
  walkObject(configSchema, '');
  return rows;
}
