/**
 * The Helm chart's `values.schema.json`, so the chart and the program describe the same configuration: the
 * `config` subtree is the program's own JSON Schema (`configJsonSchema()`, from the zod schema), the rest
 * (image, Job, RBAC…) is written here. Strict everywhere (`additionalProperties: false`): a misspelt key
 * fails `helm install` before anything is created.
 *
 * `node scripts/gen-values-schema.ts --write` refreshes the committed file; without `--write` it prints it.
 * test/unit/chart-values.test.ts fails when the committed file is stale.
 *
 * Helm validates with JSON Schema draft-07 and Go's regexp (RE2): `assertHelmCompatible` rejects what RE2
 * cannot compile (look-arounds, back-references) instead of letting `helm install` fail on it.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { configJsonSchema } from '../src/config/schema.ts';

type Schema = Record<string, unknown>;

export const VALUES_SCHEMA = join(
  import.meta.dirname,
  '..',
  'helm',
  'sd-gitops-bootstrap',
  'values.schema.json',
);

const obj = (properties: Record<string, Schema>, extra: Schema = {}): Schema => ({
  type: 'object',
  additionalProperties: false,
  properties,
  ...extra,
});
const str = (description: string, extra: Schema = {}): Schema => ({ type: 'string', description, ...extra });
const bool = (description: string): Schema => ({ type: 'boolean', description });
const stringMap = (description: string): Schema => ({
  type: 'object',
  description,
  additionalProperties: { type: 'string' },
});
const DNS_LABEL = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';
const DNS_SUBDOMAIN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';
const quantity: Schema = { anyOf: [{ type: 'string', pattern: '^[0-9.]+[a-zA-Z]*$' }, { type: 'number' }] };
const quantities = (description: string): Schema => ({
  type: 'object',
  description,
  additionalProperties: false,
  patternProperties: { '^[a-zA-Z0-9./_-]+$': quantity },
});

const nullableInt = (description: string): Schema => ({ type: ['integer', 'null'], description });
const seccomp: Schema = obj({
  type: { type: 'string', enum: ['RuntimeDefault', 'Localhost', 'Unconfined'] },
  localhostProfile: { type: 'string' },
});
const appArmor: Schema = obj({
  type: { type: 'string', enum: ['RuntimeDefault', 'Localhost', 'Unconfined'] },
  localhostProfile: { type: 'string' },
});
const seLinux: Schema = obj({
  user: { type: 'string' },
  role: { type: 'string' },
  type: { type: 'string' },
  level: { type: 'string' },
});
/** Kubernetes PodSecurityContext; a key may be null (Helm then removes it from the default). */
const podSecurityContext: Schema = obj(
  {
    runAsNonRoot: { type: ['boolean', 'null'] },
    runAsUser: nullableInt('uid; null removes it (OpenShift assigns one).'),
    runAsGroup: nullableInt('gid; null removes it.'),
    fsGroup: nullableInt('fsGroup; null removes it.'),
    fsGroupChangePolicy: { type: ['string', 'null'], enum: ['OnRootMismatch', 'Always', null] },
    supplementalGroups: { type: ['array', 'null'], items: { type: 'integer' } },
    supplementalGroupsPolicy: { type: ['string', 'null'] },
    seccompProfile: { anyOf: [seccomp, { type: 'null' }] },
    appArmorProfile: { anyOf: [appArmor, { type: 'null' }] },
    seLinuxOptions: { anyOf: [seLinux, { type: 'null' }] },
    seLinuxChangePolicy: { type: ['string', 'null'] },
    sysctls: {
      type: ['array', 'null'],
      items: obj({ name: { type: 'string' }, value: { type: 'string' } }, { required: ['name', 'value'] }),
    },
  },
  { description: 'Security context of the pod (Kubernetes PodSecurityContext).' },
);
/** Kubernetes SecurityContext of a container. */
const containerSecurityContext: Schema = obj(
  {
    allowPrivilegeEscalation: { type: ['boolean', 'null'] },
    readOnlyRootFilesystem: { type: ['boolean', 'null'] },
    runAsNonRoot: { type: ['boolean', 'null'] },
    runAsUser: nullableInt('uid; null removes it.'),
    runAsGroup: nullableInt('gid; null removes it.'),
    privileged: { type: ['boolean', 'null'] },
    procMount: { type: ['string', 'null'] },
    capabilities: {
      anyOf: [
        obj({
          add: { type: 'array', items: { type: 'string' } },
          drop: { type: 'array', items: { type: 'string' } },
        }),
        { type: 'null' },
      ],
    },
    seccompProfile: { anyOf: [seccomp, { type: 'null' }] },
    appArmorProfile: { anyOf: [appArmor, { type: 'null' }] },
    seLinuxOptions: { anyOf: [seLinux, { type: 'null' }] },
  },
  { description: 'Security context of the container (Kubernetes SecurityContext).' },
);
/** A list of Kubernetes objects of one kind, each with a name (EnvVar, Volume, VolumeMount). */
const namedList = (description: string, required: string[] = ['name']): Schema => ({
  type: 'array',
  description,
  items: { type: 'object', required, properties: { name: { type: 'string', minLength: 1 } } },
});
const ports = (description: string): Schema => ({
  type: 'array',
  description,
  items: { type: 'integer', minimum: 1, maximum: 65535 },
});
const cidrs = (description: string): Schema => ({
  type: 'array',
  description,
  items: { type: 'string', pattern: '^[0-9a-fA-F:.]+/[0-9]{1,3}$' },
});

/** The program's config schema as the `config` subtree: no `$schema`, strict on every object. */
export function configSubtree(): Schema {
  const { $schema: _, ...config } = configJsonSchema();
  strictObjects(config, 'config');
  return {
    ...config,
    description:
      "The program's configuration file, key for key (rendered into the ConfigMap the Job reads). See the configuration reference in docs/configuration.md.",
  };
}

/** Every object schema must forbid unknown keys; the program's zod objects are strict, so this only checks. */
function strictObjects(node: unknown, path: string): void {
  if (Array.isArray(node)) {
    for (const [i, n] of node.entries()) strictObjects(n, `${path}[${i}]`);
    return;
  }
  if (!node || typeof node !== 'object') return;
  const s = node as Schema;
  if (s.type === 'object' && s.properties && s.additionalProperties !== false) {
    throw new Error(`${path}: an object schema that allows unknown keys (make the zod object strict)`);
  }
  for (const [k, v] of Object.entries(s)) strictObjects(v, `${path}.${k}`);
}

/** Look-arounds, back-references and possessive/atomic groups: valid in JavaScript, not in Go's RE2. */
const NOT_RE2 = /\(\?[=!<>]|\\[1-9]|\\k<|[*+?}]\+/;

/** Throws when a pattern could not be compiled by Helm (Go RE2) or a keyword is beyond draft-07. */
export function assertHelmCompatible(node: unknown, path = '$'): void {
  if (Array.isArray(node)) {
    for (const [i, n] of node.entries()) assertHelmCompatible(n, `${path}[${i}]`);
    return;
  }
  if (!node || typeof node !== 'object') return;
  for (const [k, v] of Object.entries(node as Schema)) {
    if (k === 'pattern' && typeof v === 'string' && NOT_RE2.test(v)) {
      throw new Error(`${path}.pattern: ${v} uses a construct Go's regexp (RE2) does not support`);
    }
    if (k === 'patternProperties' && v && typeof v === 'object') {
      for (const p of Object.keys(v)) {
        if (NOT_RE2.test(p)) throw new Error(`${path}.patternProperties: ${p} is not RE2`);
      }
    }
    if (
      ['$defs', 'dependentRequired', 'dependentSchemas', 'unevaluatedProperties', 'prefixItems'].includes(k)
    ) {
      throw new Error(`${path}.${k}: not a draft-07 keyword`);
    }
    assertHelmCompatible(v, `${path}.${k}`);
  }
}

/** The duration syntax of the program (the same pattern as `argocd.rolloutTimeout`). */
function durationSchema(config: Schema): Schema {
  const argocd = (config.properties as Record<string, Schema>).argocd!;
  const rollout = (argocd.properties as Record<string, Schema>).rolloutTimeout!;
  const { anyOf } = rollout as { anyOf: Schema[] };
  return { anyOf };
}

export function valuesSchema(): Schema {
  const config = configSubtree();
  const schema: Schema = {
    $schema: 'http://json-schema.org/draft-07/schema#',
    title: 'sd-gitops-bootstrap chart values',
    ...obj({
      // Patterns, not only quoting: these names are written bare into object names and labels.
      nameOverride: str('Override the chart name in object names and labels.', {
        pattern: `^$|${DNS_LABEL}`,
        maxLength: 63,
      }),
      fullnameOverride: str('Override the full name of the chart objects.', {
        pattern: `^$|${DNS_LABEL}`,
        maxLength: 63,
      }),
      commonLabels: stringMap('Labels of every object the chart renders, and of its pods.'),
      image: obj(
        {
          repository: str('Image repository.', { minLength: 1 }),
          tag: str("Image tag; empty: the chart's appVersion."),
          digest: str('Image digest (wins over tag).', { pattern: '^(sha256:[a-f0-9]{64})?$' }),
          pullPolicy: str('imagePullPolicy.', { enum: ['Always', 'IfNotPresent', 'Never'] }),
        },
        { description: 'The container image of the Job.' },
      ),
      imagePullSecrets: {
        type: 'array',
        description: 'Existing Secrets for pulling the image.',
        items: obj({ name: str('Secret name.', { pattern: DNS_SUBDOMAIN }) }, { required: ['name'] }),
      },
      global: obj(
        {
          image: obj(
            {
              registry: str(
                "Registry (and path prefix) the Job's image is pulled from instead of image.repository's own; no scheme, no tag.",
                {
                  pattern:
                    '^$|^[a-z0-9]([-a-z0-9.]*[a-z0-9])?(:[0-9]{1,5})?(/[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*)*$',
                },
              ),
            },
            { additionalProperties: true },
          ),
          imagePullSecrets: {
            type: 'array',
            description: 'Secrets for pulling the image, added before imagePullSecrets (argo-helm style).',
            items: obj({ name: str('Secret name.', { pattern: DNS_SUBDOMAIN }) }, { required: ['name'] }),
          },
        },
        {
          // Open: a parent chart's globals pass through.
          additionalProperties: true,
          description:
            "Helm global values, shared with a parent chart: image.registry and imagePullSecrets apply to every image the chart runs (Argo CD's: config.argocd.images); others are not used.",
        },
      ),
      serviceAccount: obj(
        {
          create: bool('Create the ServiceAccount.'),
          name: str("Its name; empty: the chart's full name.", {
            pattern: `^$|${DNS_SUBDOMAIN}`,
            maxLength: 253,
          }),
          annotations: stringMap('Annotations of the ServiceAccount.'),
        },
        { description: 'The ServiceAccount the Job runs as.' },
      ),
      rbac: obj(
        { create: bool('Create the ClusterRole, Roles and bindings the program needs.') },
        { description: 'RBAC for the Job.' },
      ),
      networkPolicy: obj(
        {
          enabled: bool('Render the egress-only NetworkPolicy of the chart pods.'),
          apiServer: obj(
            {
              cidrs: cidrs('Address ranges of the API server; empty: any.'),
              ports: ports('TCP ports of the API server.'),
            },
            { description: 'The Kubernetes API server (its endpoints, after the Service).' },
          ),
          git: obj(
            {
              cidrs: cidrs('Address ranges of the Git host; empty: any.'),
              ports: ports('TCP ports of the Git host (and proxy).'),
            },
            { description: 'The Git host.' },
          ),
          dns: obj(
            {
              namespace: str('Namespace of the DNS pods.', { pattern: DNS_SUBDOMAIN }),
              podLabels: stringMap('Labels of the DNS pods; empty: any pod there.'),
              ports: ports('DNS ports (UDP and TCP).'),
            },
            { description: 'The cluster DNS.' },
          ),
          extraEgress: {
            type: 'array',
            description: 'More egress rules (NetworkPolicyEgressRule).',
            items: { type: 'object' },
          },
        },
        { description: 'Egress-only NetworkPolicy of the chart pods.' },
      ),
      proxy: obj(
        {
          httpsProxy: str('Proxy URL for HTTPS (HTTPS_PROXY); empty: none.', {
            pattern: '^$|^https?://[^\\s]+$',
          }),
          httpProxy: str('Proxy URL for plain HTTP (HTTP_PROXY); empty: none.', {
            pattern: '^$|^https?://[^\\s]+$',
          }),
          noProxy: str('More hosts reached without the proxy, comma-separated (NO_PROXY).', {
            pattern: '^[^\\s]*$',
          }),
        },
        { description: 'An HTTP(S) proxy for the Job (git, install.url).' },
      ),
      schedule: obj(
        {
          enabled: bool('Run the bootstrap on a schedule too (a CronJob with standing RBAC).'),
          cron: str('The CronJob schedule (cron syntax).', { minLength: 1 }),
        },
        { description: 'Drift repaired between upgrades.' },
      ),
      uninstall: obj(
        { enabled: bool('Run `sd-gitops-bootstrap uninstall` as a pre-delete hook of `helm uninstall`.') },
        { description: 'Cleaning up on helm uninstall.' },
      ),
      job: obj(
        {
          backoffLimit: { type: 'integer', minimum: 0, description: 'Retries of a run that is not ready.' },
          activeDeadlineSeconds: { type: 'integer', minimum: 1, description: 'Hard limit on the run time.' },
          ttlSecondsAfterFinished: {
            type: ['integer', 'null'],
            minimum: 0,
            description: 'Delete the finished Job after this many seconds; null: keep it.',
          },
          hookWeight: {
            description: 'helm.sh/hook-weight of the Job; its ServiceAccount and RBAC hooks get one less.',
            anyOf: [{ type: 'string', pattern: '^-?[0-9]+$' }, { type: 'integer' }],
          },
          annotations: stringMap('Extra annotations of the Job.'),
          podAnnotations: stringMap('Extra annotations of the pod.'),
          podLabels: stringMap('Extra labels of the pod.'),
          resources: obj(
            {
              requests: quantities('Resource requests.'),
              limits: quantities('Resource limits.'),
            },
            { description: 'Resources of the container.' },
          ),
          nodeSelector: stringMap('Node selector of the pod.'),
          tolerations: {
            type: 'array',
            description: 'Tolerations of the pod.',
            items: obj({
              key: { type: 'string' },
              operator: { type: 'string', enum: ['Exists', 'Equal'] },
              value: { type: 'string' },
              effect: { type: 'string', enum: ['', 'NoSchedule', 'PreferNoSchedule', 'NoExecute'] },
              tolerationSeconds: { type: 'integer' },
            }),
          },
          affinity: obj(
            {
              nodeAffinity: { type: 'object' },
              podAffinity: { type: 'object' },
              podAntiAffinity: { type: 'object' },
            },
            { description: 'Affinity of the pod (Kubernetes Affinity).' },
          ),
          priorityClassName: str('PriorityClass of the pod.', {
            pattern: `^$|${DNS_SUBDOMAIN}`,
            maxLength: 253,
          }),
          podSecurityContext,
          containerSecurityContext,
          extraEnv: namedList('More environment variables (Kubernetes EnvVar).'),
          extraVolumes: namedList('More volumes of the pod (Kubernetes Volume).'),
          extraVolumeMounts: namedList('More volume mounts of the container (Kubernetes VolumeMount).', [
            'name',
            'mountPath',
          ]),
        },
        { description: 'The hook Job.' },
      ),
      test: obj(
        {
          enabled: bool('Render the helm test pod and its read-only RBAC.'),
          timeout: { description: 'Deadline of the status run of the test pod.', ...durationSchema(config) },
        },
        { description: '`helm test`: a pod that runs status --require-ready.' },
      ),
      logFormat: str('Log format.', { enum: ['pretty', 'json', 'auto'] }),
      logLevel: str('Log level.', { enum: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] }),
      timeout: {
        description: 'Overall deadline of one run (SD_BOOTSTRAP_TIMEOUT).',
        ...durationSchema(config),
      },
      config,
    }),
  };
  assertHelmCompatible(schema);
  return schema;
}

export function valuesSchemaText(): string {
  return `${JSON.stringify(valuesSchema(), null, 2)}\n`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (process.argv.includes('--write')) writeFileSync(VALUES_SCHEMA, valuesSchemaText());
  else process.stdout.write(valuesSchemaText());
}
