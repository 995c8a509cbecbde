/**
 * The Helm chart on the KWOK cluster (a real API server with RBAC and admission; pods do not run here —
 * the hook Job really runs in test/e2e-kind/chart.test.ts):
 * - `helm lint --strict` passes for every ci/*-values.yaml scenario, and `helm template` works without
 *   `--kube-version` while a Kubernetes older than 1.29 is refused when the version is real;
 * - the usual values (security contexts with null removing a key, extraEnv, extra volumes, commonLabels,
 *   the egress-only NetworkPolicy, digest over tag, proxy variables) render as documented;
 * - `helm test`: the test pod runs `status --require-ready` with the Job's image, config and security
 *   contexts, under read-only rights that are a subset of the run's and cover every read it needs;
 * - every object `helm template` renders is accepted by the API server (server-side dry-run), the Job
 *   without a Pod Security "restricted" warning;
 * - values.schema.json rejects bad values before anything is installed;
 * - the chart's RBAC is exactly the permission list of the program's preflight, scenario by scenario;
 * - the program, run under the chart's own ServiceAccount with nothing but the chart's RBAC, converges to
 *   a ready report: installing Argo CD, then with `install.source: skip` (after `helm upgrade`);
 * - the ServiceAccount and RBAC are hooks one weight before the Job, deleted once it succeeded: after a
 *   real `helm install` and `helm upgrade` (KWOK completes the Job's pod) the ServiceAccount can do
 *   nothing a ServiceAccount without bindings cannot (`kubectl auth can-i`), and the audit log shows each
 *   hook object created and deleted once per run.
 */
import { join } from 'node:path';
import { load } from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.ts';
import type { Config } from '../../src/config/types.ts';
import { batchEnvironments } from '../../src/manifests/batch.ts';
import { driftPermissions, type Permission, requiredPermissions } from '../../src/steps/preflight.ts';
import { notReady } from '../support/report.ts';
import { unusedSourceSecret } from '../support/ssh-keys.ts';
import { runCli, writeConfig } from './support/bootstrap.ts';
import {
  CHART,
  chartValues,
  ciScenarios,
  deleteObjects,
  type Grant,
  grantKey,
  grantsOf,
  helm,
  helmOk,
  type K8sObject,
  kubectlResult,
  manifestKinds,
  mergeValues,
  parseObjects,
  readValues,
  render,
  valuesFile,
} from './support/helm.ts';
import {
  auditEvents,
  auditMark,
  dataOf,
  kubectl,
  kubectlJson,
  serviceAccountKubeconfig,
  target,
  uniqueName,
} from './support/target.ts';

const scenarios = ciScenarios();
const createdNamespaces: string[] = [];

async function ensureNamespace(name: string, labels: Record<string, string> = {}): Promise<void> {
  const exists = await kubectl(['get', 'namespace', name, '-o', 'name']).then(
    () => true,
    () => false,
  );
  if (!exists) {
    await kubectl(['create', 'namespace', name]);
    createdNamespaces.push(name);
  }
  const pairs = Object.entries(labels).map(([k, v]) => `${k}=${v}`);
  if (pairs.length) await kubectl(['label', 'namespace', name, '--overwrite', ...pairs]);
}

/** Namespaces other test files use too (the Argo CD one, Seldon Deploy's): created if missing, never deleted. */
const SHARED_NAMESPACES = new Set(['argocd', 'seldon-system']);

afterAll(async () => {
  for (const ns of createdNamespaces.filter((n) => !SHARED_NAMESPACES.has(n)))
    await kubectl(['delete', 'namespace', ns, '--wait=false']).catch(() => {});
});

/** The config file exactly as the chart renders it for the Job to mount (its config ConfigMap). */
async function renderedConfig(release: string, namespace: string): Promise<string> {
  const cm = await dataOf('configmap', `${release}-sd-gitops-bootstrap-config`, namespace);
  return cm['config.yaml']!;
}

describe('helm lint', () => {
  it.each(scenarios)('$name', async ({ file }) => {
    const out = await helmOk(['lint', CHART, '--strict', '-f', file]);
    expect(out).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
  });
});

describe('every rendered object is accepted by the API server (server-side dry-run)', () => {
  it.each(scenarios)('$name', async ({ name, file }) => {
    const ns = uniqueName(`chart-${name}`).slice(0, 40);
    await ensureNamespace(ns, {
      'pod-security.kubernetes.io/enforce': 'restricted',
      'pod-security.kubernetes.io/warn': 'restricted',
    });
    const objects = await render('sdb', ns, [file], { tests: true });
    const values = mergeValues(chartValues(), readValues(file)) as {
      networkPolicy: { enabled: boolean };
      test: { enabled: boolean };
      config: { argocd: { install: { source: string } } };
    };
    expect(new Set(objects.map((o) => o.kind))).toEqual(
      new Set([
        // Installing Argo CD: its namespace, a pre-install hook (rendered offline as for a first install).
        ...(values.config.argocd.install.source !== 'skip' ? ['Namespace'] : []),
        'ServiceAccount',
        'ConfigMap',
        'ClusterRole',
        'ClusterRoleBinding',
        'Role',
        'RoleBinding',
        'Job',
        ...(values.networkPolicy.enabled ? ['NetworkPolicy'] : []),
        ...(values.test.enabled ? ['Pod'] : []),
      ]),
    );
    // Roles go to namespaces that exist before `helm install` (e.g. the Argo CD one with `skip`).
    for (const o of objects) if (o.metadata.namespace) await ensureNamespace(o.metadata.namespace);
    // A Pod (the helm test hook) is admitted only once its ServiceAccount exists, as `helm test` creates
    // it first (a lower hook weight): create the ServiceAccounts for real.
    const accounts = objects.filter((o) => o.kind === 'ServiceAccount');
    await kubectl(['apply', '-f', '-'], {
      input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: accounts }),
    });
    const r = await kubectlResult(['apply', '--server-side', '--dry-run=server', '-f', '-'], {
      input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }),
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim().split('\n')).toHaveLength(objects.length);
    // The Job's pod template meets Pod Security "restricted" (the namespace warns on workloads).
    expect(r.stderr).not.toMatch(/PodSecurity|would violate/);
  });
});

describe('values.schema.json rejects bad values before anything is installed', () => {
  const base = scenarios.find((s) => s.name === 'default')!.file;

  it('a namespace name with capitals, naming the key', async () => {
    const bad = valuesFile('capitals', { config: { environments: { namespaces: ['Staging'] } } });
    const r = await helm(['template', 'sdb', CHART, '-n', 'default', '-f', base, '-f', bad]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/values don't meet the specifications of the schema/);
    expect(r.stderr).toContain('/config/environments/namespaces/0');
  });

  it('a misspelt key', async () => {
    const bad = valuesFile('typo', { config: { argocd: { namepsace: 'argocd' } } });
    const r = await helm(['template', 'sdb', CHART, '-n', 'default', '-f', base, '-f', bad]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/namepsace/);
    expect(r.stderr).toContain('/config/argocd');
  });

  it('helm install --dry-run fails the same way, and no release exists after it', async () => {
    const ns = uniqueName('chart-schema');
    await ensureNamespace(ns);
    const bad = valuesFile('capitals2', { config: { argocd: { namespace: 'ArgoCD' } } });
    const r = await helm(['install', 'bad', CHART, '-n', ns, '-f', base, '-f', bad, '--dry-run=server']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('/config/argocd/namespace');
    const r2 = await helm(['install', 'bad', CHART, '-n', ns, '-f', base, '-f', bad]);
    expect(r2.code).not.toBe(0);
    expect(await helmOk(['list', '-n', ns, '-a', '-q'])).toBe('');
    expect(
      await kubectl(['get', 'serviceaccounts,configmaps,roles,jobs', '-n', ns, '-o', 'name']),
    ).not.toMatch(/sd-gitops-bootstrap/);
  });

  it('a Seldon Deploy namespace that does not exist: helm install fails naming the key, before any object', async () => {
    const ns = uniqueName('chart-nons');
    await ensureNamespace(ns);
    const absent = uniqueName('absent-seldon');
    const bad = valuesFile('absent-seldon', { config: { seldonDeploy: { namespace: absent } } });
    const sentence = `namespace ${absent} (config.seldonDeploy.namespace) does not exist: install Seldon Deploy first`;
    const dry = await helm(['install', 'nons', CHART, '-n', ns, '-f', base, '-f', bad, '--dry-run=server']);
    expect(dry.code).not.toBe(0);
    expect(dry.stderr).toContain(sentence);
    const r = await helm(['install', 'nons', CHART, '-n', ns, '-f', base, '-f', bad]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(sentence);
    expect(r.stderr).not.toMatch(/namespaces ".*" not found/);
    expect(await helmOk(['list', '-n', ns, '-a', '-q'])).toBe('');
    expect(
      await kubectl(['get', 'serviceaccounts,configmaps,roles,jobs', '-n', ns, '-o', 'name']),
    ).not.toMatch(/sd-gitops-bootstrap/);
    // Offline (no cluster to look in) it renders: the check needs lookup to see the cluster.
    expect((await helm(['template', 'nons', CHART, '-n', ns, '-f', base, '-f', bad])).code).toBe(0);
  });
});

interface PodSpec {
  securityContext?: Record<string, unknown>;
  containers: {
    name: string;
    image: string;
    args?: string[];
    env: { name: string; value?: string }[];
    securityContext?: Record<string, unknown>;
    volumeMounts: { name: string; mountPath: string }[];
  }[];
  volumes: { name: string }[];
}
interface JobObject extends K8sObject {
  spec: { template: { metadata: { labels: Record<string, string> }; spec: PodSpec } };
}
const jobOf = (objects: K8sObject[]) => objects.find((o) => o.kind === 'Job') as JobObject;

describe('the usual values (cert-manager style), each defaulting to what the chart did before', () => {
  const scenario = (name: string) => scenarios.find((s) => s.name === name)!.file;

  it("helm template works without --kube-version (Helm's offline default), and so does helm lint", async () => {
    const r = await helm(['template', 'sdb', CHART, '-n', 'seldon-system', '-f', scenario('default')]);
    expect(r.code, r.stderr).toBe(0);
    expect(parseObjects(r.stdout).map((o) => o.kind)).toContain('Job');
  });

  it('a Kubernetes older than 1.29 is refused when the version is real, naming it', async () => {
    const args = ['template', 'sdb', CHART, '-n', 'seldon-system', '-f', scenario('default')];
    // As from a cluster: discovery always has apiregistration.k8s.io/v1, Helm's offline set never.
    const fromCluster = await helm([
      ...args,
      '--kube-version',
      'v1.28.9',
      '--api-versions',
      'apiregistration.k8s.io/v1',
    ]);
    expect(fromCluster.code).not.toBe(0);
    expect(fromCluster.stderr).toContain('needs Kubernetes 1.29 or newer');
    expect(fromCluster.stderr).toContain('this cluster is v1.28.9');
    // Asked for explicitly.
    const asked = await helm([...args, '--kube-version', '1.27.0']);
    expect(asked.stderr).toContain('needs Kubernetes 1.29 or newer');
    // The floor itself passes, as does the KWOK cluster (server-side dry-run below).
    expect((await helm([...args, '--kube-version', 'v1.29.0'])).code).toBe(0);
    expect(
      (await helm([...args, '--kube-version', 'v1.29.0', '--api-versions', 'apiregistration.k8s.io/v1']))
        .code,
    ).toBe(0);
  });

  it("defaults: the restricted security contexts, the chart's env and volumes only, no NetworkPolicy", async () => {
    const objects = await render('sdb', 'seldon-system', [scenario('default')]);
    const pod = jobOf(objects).spec.template.spec;
    expect(pod.securityContext).toEqual({
      runAsNonRoot: true,
      runAsUser: 10001,
      runAsGroup: 10001,
      fsGroup: 10001,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    const c = pod.containers[0]!;
    expect(c.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(c.env.map((e) => e.name)).toEqual([
      'SD_BOOTSTRAP_CONFIG',
      'SD_BOOTSTRAP_TIMEOUT',
      'LOG_FORMAT',
      'LOG_LEVEL',
      'POD_NAMESPACE',
      'SD_BOOTSTRAP_SECRET_DIR',
      'SD_BOOTSTRAP_IMAGE',
    ]);
    expect(c.env.at(-1)).toEqual({ name: 'SD_BOOTSTRAP_IMAGE', value: c.image });
    expect(c.volumeMounts.map((m) => m.name)).toEqual(['config', 'tmp', 'secrets']);
    expect(pod.volumes.map((v) => v.name)).toEqual(['config', 'tmp', 'secrets']);
    expect(c.image).toBe('ghcr.io/seldonio/sd-gitops-bootstrap:0.1.0');
    expect(objects.filter((o) => o.kind === 'NetworkPolicy')).toEqual([]);
  });

  it('openshift: null removes runAsUser, runAsGroup and fsGroup; the rest of "restricted" stays', async () => {
    const pod = jobOf(await render('sdb', 'seldon-system', [scenario('openshift')])).spec.template.spec;
    expect(pod.securityContext).toEqual({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    expect(pod.containers[0]!.securityContext).toMatchObject({
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
    });
  });

  it("site policy: digest over tag, commonLabels everywhere, extraEnv/volumes after the chart's own", async () => {
    const objects = await render('sdb', 'seldon-system', [scenario('site-policy')]);
    const job = jobOf(objects);
    const pod = job.spec.template.spec;
    const c = pod.containers[0]!;
    expect(c.image).toBe(
      'registry.example.com/mirror/sd-gitops-bootstrap@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef',
    );
    const labelled = [
      ...objects.map((o) => ({ what: `${o.kind}/${o.metadata.name}`, metadata: o.metadata })),
      { what: 'the pod template', metadata: job.spec.template.metadata },
    ];
    const unlabelled = labelled
      .filter(
        (o) =>
          (o.metadata as { labels?: Record<string, string> }).labels?.['example.com/team'] !== 'platform',
      )
      .map((o) => o.what);
    expect(unlabelled).toEqual([]);
    expect(c.env.at(-1)).toEqual({ name: 'NODE_OPTIONS', value: '--max-old-space-size=384' });
    expect(c.volumeMounts.map((m) => m.name)).toEqual(['config', 'tmp', 'secrets', 'site-ca']);
    expect(pod.volumes.map((v) => v.name)).toEqual(['config', 'tmp', 'secrets', 'site-ca']);
  });

  it("site policy: the NetworkPolicy is egress-only, selects the Job's pod, allows DNS, API server and Git", async () => {
    const objects = await render('sdb', 'seldon-system', [scenario('site-policy')]);
    const np = objects.find((o) => o.kind === 'NetworkPolicy') as K8sObject & {
      spec: {
        podSelector: { matchLabels: Record<string, string> };
        policyTypes: string[];
        egress: { to?: Record<string, unknown>[]; ports: { protocol: string; port: number }[] }[];
      };
    };
    expect(np.spec.policyTypes).toEqual(['Egress']);
    const podLabels = jobOf(objects).spec.template.metadata.labels;
    for (const [k, v] of Object.entries(np.spec.podSelector.matchLabels)) expect(podLabels[k], k).toBe(v);
    expect(np.spec.egress).toEqual([
      {
        to: [
          {
            namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } },
            podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } },
          },
        ],
        ports: [
          { protocol: 'UDP', port: 53 },
          { protocol: 'TCP', port: 53 },
        ],
      },
      { to: [{ ipBlock: { cidr: '10.0.0.10/32' } }], ports: [{ protocol: 'TCP', port: 6443 }] },
      {
        to: [{ ipBlock: { cidr: '203.0.113.7/32' } }, { ipBlock: { cidr: '203.0.113.8/32' } }],
        ports: [{ protocol: 'TCP', port: 22 }],
      },
      { to: [{ ipBlock: { cidr: '198.51.100.0/24' } }], ports: [{ protocol: 'TCP', port: 443 }] },
    ]);
    // No cidrs: the rule restricts by port alone.
    const open = await render('sdb', 'seldon-system', [
      scenario('default'),
      valuesFile('np-open', { networkPolicy: { enabled: true } }),
    ]);
    const egress = (open.find((o) => o.kind === 'NetworkPolicy') as typeof np).spec.egress;
    expect(egress.slice(1)).toEqual([
      {
        ports: [
          { protocol: 'TCP', port: 443 },
          { protocol: 'TCP', port: 6443 },
        ],
      },
      {
        ports: [
          { protocol: 'TCP', port: 22 },
          { protocol: 'TCP', port: 443 },
        ],
      },
    ]);
  });

  it('proxy values become HTTPS_PROXY/NO_PROXY (both cases), NO_PROXY always holding the API server', async () => {
    const env = jobOf(await render('sdb', 'seldon-system', [scenario('https-git')])).spec.template.spec
      .containers[0]!.env;
    const value = (name: string) => env.find((e) => e.name === name)?.value;
    expect(value('HTTPS_PROXY')).toBe('http://proxy.corp.example.com:3128');
    expect(value('https_proxy')).toBe('http://proxy.corp.example.com:3128');
    expect(value('HTTP_PROXY')).toBeUndefined();
    const noProxy = '$(KUBERNETES_SERVICE_HOST),.svc,.cluster.local,localhost,127.0.0.1,.corp.example.com';
    expect([value('NO_PROXY'), value('no_proxy')]).toEqual([noProxy, noProxy]);
    // After POD_NAMESPACE (Kubernetes expands $(VAR) only from variables defined before, and the Service ones).
    expect(env.findIndex((e) => e.name === 'NO_PROXY')).toBeGreaterThan(
      env.findIndex((e) => e.name === 'POD_NAMESPACE'),
    );
  });

  it('the schema refuses a misspelt security context key and a bad CIDR', async () => {
    for (const [name, bad, where] of [
      ['sc-typo', { job: { podSecurityContext: { runAsUsr: 1 } } }, 'runAsUsr'],
      ['np-cidr', { networkPolicy: { git: { cidrs: ['git.example.com'] } } }, '/networkPolicy/git/cidrs/0'],
    ] as const) {
      const r = await helm([
        'template',
        'sdb',
        CHART,
        '-n',
        'default',
        '-f',
        scenario('default'),
        '-f',
        valuesFile(name, bad),
      ]);
      expect(r.code, name).not.toBe(0);
      expect(r.stderr, name).toContain(where);
    }
  });
});

describe('helm test: a read-only pod that runs status --require-ready', () => {
  const scenario = (name: string) => scenarios.find((s) => s.name === name)!.file;
  const isTest = (o: K8sObject) => o.metadata.annotations?.['helm.sh/hook'] === 'test';

  it.each(scenarios)(
    "$name: the pod runs the Job's image and config, read-only, as a test hook",
    async ({ file }) => {
      const objects = await render('sdb', 'seldon-system', [file], { tests: true });
      const tests = objects.filter(isTest);
      const pod = tests.find((o) => o.kind === 'Pod') as K8sObject & {
        spec: PodSpec & Record<string, unknown>;
      };
      const job = jobOf(objects).spec.template.spec;
      const c = pod.spec.containers[0]!;
      expect(c.image).toBe(job.containers[0]!.image);
      expect(c.args).toEqual(['status', '--require-ready']);
      expect(c.securityContext).toEqual(job.containers[0]!.securityContext);
      expect(c.securityContext).toMatchObject({
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
      });
      expect(pod.spec.securityContext).toEqual(job.securityContext);
      expect(pod.spec.restartPolicy).toBe('Never');
      expect(pod.spec.serviceAccountName).toBe('sdb-sd-gitops-bootstrap-test');
      // The release's config, as the Job mounts it.
      const cmOf = (spec: PodSpec) =>
        (spec.volumes as { name: string; configMap?: { name: string } }[]).find((v) => v.name === 'config')
          ?.configMap?.name;
      expect(cmOf(pod.spec)).toBe(cmOf(job));
      // Every test object is a test hook. The ServiceAccount and RBAC (created first) are deleted when the
      // test passes; the pod stays until the next `helm test`, for `--logs` (Helm 3 reads the log after
      // deleting hook-succeeded hooks: test/e2e-kind/helm-test.test.ts).
      for (const o of tests)
        expect(o.metadata.annotations?.['helm.sh/hook-delete-policy'], `${o.kind}/${o.metadata.name}`).toBe(
          o.kind === 'Pod' ? 'before-hook-creation' : 'before-hook-creation,hook-succeeded',
        );
      const weight = (o: K8sObject) => Number(o.metadata.annotations?.['helm.sh/hook-weight']);
      for (const o of tests.filter((o) => o.kind !== 'Pod')) expect(weight(o)).toBeLessThan(weight(pod));
      expect(tests.filter((o) => o.kind === 'ServiceAccount').map((o) => o.metadata.name)).toEqual([
        'sdb-sd-gitops-bootstrap-test',
      ]);
    },
  );

  it.each(scenarios)(
    '$name: its rights are reads only, each one the run has, and every read the run needs',
    async ({ file }) => {
      const ns = 'seldon-system';
      const all = await render('sdb', ns, [file], { tests: true });
      const testGrants = grantsOf(all.filter(isTest));
      const runGrants = grantsOf(all.filter((o) => !isTest(o)));
      expect(testGrants.length).toBeGreaterThan(0);
      expect(testGrants.filter((g) => g.verb !== 'get' && g.verb !== 'list').map(grantKey)).toEqual([]);
      // Nothing the run itself is not granted, names included.
      const inRun = (g: Grant) =>
        runGrants.some(
          (r) =>
            grantKey(r) === grantKey(g) &&
            (!r.names || (!!g.names && g.names.every((n) => r.names!.includes(n)))),
        );
      expect(testGrants.filter((g) => !inRun(g)).map(grantKey)).toEqual([]);
      // Every read of the run's permission list is there too: status reads what apply wrote.
      const values = mergeValues(chartValues(), readValues(file)) as { config: unknown };
      const reads = requiredGrants(parseConfig(values.config), ns).filter(
        (p) => p.verb === 'get' || p.verb === 'list',
      );
      // A permission by name is granted when each name is, by any rule (one without names grants all).
      const grantsName = (g: Grant, p: Grant, n?: string) =>
        g.verb === p.verb &&
        g.group === p.group &&
        g.resource === p.resource &&
        (g.scope === '*' || g.scope === p.scope) &&
        (!g.names || (n !== undefined && g.names.includes(n)));
      const granted = (p: Grant) =>
        p.names
          ? p.names.every((n) => testGrants.some((g) => grantsName(g, p, n)))
          : testGrants.some((g) => grantsName(g, p));
      expect(reads.filter((p) => !granted(p)).map(grantKey)).toEqual([]);
      // Secrets only by name.
      expect(testGrants.filter((g) => g.resource === 'secrets' && !g.names).map(grantKey)).toEqual([]);
    },
  );

  it('test.enabled false: no test objects; rbac.create false: the ServiceAccount only', async () => {
    const off = await render(
      'sdb',
      'seldon-system',
      [scenario('default'), valuesFile('no-test', { test: { enabled: false } })],
      { tests: true },
    );
    expect(off.filter(isTest)).toEqual([]);
    const own = await render(
      'sdb',
      'seldon-system',
      [scenario('default'), valuesFile('no-rbac', { rbac: { create: false } })],
      { tests: true },
    );
    expect(
      own
        .filter(isTest)
        .map((o) => o.kind)
        .sort(),
    ).toEqual(['Pod', 'ServiceAccount']);
  });
});

/** The preflight's permission list for a config, as Grants (assuming the admin password Secret is absent). */
function requiredGrants(config: Config, runNamespace: string): Grant[] {
  const install = config.argocd.install.source !== 'skip';
  const perms = requiredPermissions(config, {
    mode: 'apply',
    runNamespace,
    manifestKinds: install ? manifestKinds(config.argocd.version) : [],
    virtualServiceApiVersion:
      config.argocd.virtualService.enabled === false ? undefined : 'networking.istio.io/v1',
    adminPasswordNamespace: config.argocd.adminPassword.secretRef.namespace ?? runNamespace,
    createAdminPasswordSecret: config.argocd.adminPassword.generate,
    credentialsNamespace: config.git.credentials.secretRef.namespace ?? runNamespace,
  });
  return perms.map((p: Permission) => ({
    verb: p.verb,
    group: p.group,
    resource: p.resource,
    scope: p.namespace ?? '*',
    ...(p.names ? { names: p.names } : {}),
  }));
}

describe("the chart's RBAC is exactly what the program's preflight asks for", () => {
  it.each(scenarios)('$name', async ({ name, file }) => {
    const ns = 'seldon-system';
    const values = mergeValues(chartValues(), readValues(file)) as { config: unknown };
    const config = parseConfig(values.config);
    const granted = grantsOf(await render('sdb', ns, [file]));
    const required = requiredGrants(config, ns);

    // Every required permission is granted (cluster-wide, or by a Role in its namespace)…
    const same = (g: Grant, p: Grant) =>
      g.verb === p.verb &&
      g.group === p.group &&
      g.resource === p.resource &&
      (g.scope === '*' || g.scope === p.scope);
    // A permission by name is granted when each name is, by any rule (one without names grants all).
    const grantsName = (g: Grant, p: Grant, n?: string) =>
      same(g, p) && (!g.names || (n !== undefined && g.names.includes(n)));
    const isGranted = (p: Grant) =>
      p.names
        ? p.names.every((n) => granted.some((g) => grantsName(g, p, n)))
        : granted.some((g) => grantsName(g, p));
    const missing = required.filter((p) => !isGranted(p)).map(grantKey);
    expect(missing, `${name}: not granted`).toEqual([]);
    const covers = (g: Grant, p: Grant) =>
      same(g, p) && (!g.names || (!!p.names && g.names.some((n) => p.names!.includes(n))));
    // …and nothing is granted that no required permission needs (least privilege), by name too.
    const needless = granted.filter((g) => !required.some((p) => covers(g, p))).map(grantKey);
    expect(needless, `${name}: granted but never used`).toEqual([]);
    const needlessNames = granted.flatMap((g) =>
      (g.names ?? [])
        .filter((n) => !required.some((p) => same(g, p) && p.names?.includes(n)))
        .map((n) => `${grantKey(g)} for ${n}`),
    );
    expect(needlessNames, `${name}: names granted but never used`).toEqual([]);
    // What can be named is: namespaces and Secrets are read and patched only by name, and with the
    // bundled manifest its CRDs, ClusterRoles, Roles and bindings too (escalate and bind included).
    const byName = ['namespaces', 'secrets'];
    if (config.argocd.install.source !== 'file' && config.argocd.install.source !== 'url')
      byName.push(
        'customresourcedefinitions',
        'clusterroles',
        'clusterrolebindings',
        'roles',
        'rolebindings',
      );
    expect(
      granted.filter((g) => byName.includes(g.resource) && g.verb !== 'create' && !g.names).map(grantKey),
    ).toEqual([]);

    // Cluster-wide only what is cluster-scoped: everything in a namespace (Argo CD's too, when the Job
    // installs it) is a Role there, so the run cannot touch another namespace's objects.
    const clusterScoped = ['namespaces', 'customresourcedefinitions', 'clusterroles', 'clusterrolebindings'];
    // Batch jobs: the environments are the Job's to create, so their `workflow` objects and the storage
    // Secret's copy are granted cluster-wide — by name, except create (RBAC cannot name a create).
    const batchKinds = ['roles', 'rolebindings', 'serviceaccounts', 'secrets'];
    const batch = batchEnvironments(config).length > 0;
    const batchGrant = (g: Grant) =>
      batch && batchKinds.includes(g.resource) && (g.verb === 'create' || !!g.names);
    expect(
      granted
        .filter((g) => g.scope === '*' && !clusterScoped.includes(g.resource) && !batchGrant(g))
        .map(grantKey),
    ).toEqual([]);
    if (config.argocd.install.source !== 'skip') {
      // The namespaced rules of the install are in the Argo CD namespace (created first by the chart).
      const argoScope = granted.filter((g) => g.scope === config.argocd.namespace).map(grantKey);
      expect(argoScope).toEqual(
        expect.arrayContaining([
          `create apps/deployments @${config.argocd.namespace}`,
          `escalate rbac.authorization.k8s.io/roles @${config.argocd.namespace}`,
        ]),
      );
    }

    if (config.argocd.install.source === 'skip') {
      // skip: no CRD writes, no ClusterRoles, no escalate/bind anywhere.
      expect(
        granted
          .filter((g) => g.scope === '*')
          .map(grantKey)
          .sort(),
      ).toEqual(
        [
          'create namespaces @*',
          'get apiextensions.k8s.io/customresourcedefinitions @*',
          'get namespaces @*',
          'patch namespaces @*',
        ].sort(),
      );
      expect(granted.filter((g) => g.verb === 'escalate' || g.verb === 'bind')).toEqual([]);
    }
  });
});

describe("schedule.enabled: the scheduled RBAC is exactly what `apply --scope drift`'s preflight asks for", () => {
  it.each(scenarios)('$name', async ({ name, file }) => {
    const ns = 'seldon-system';
    const schedule = valuesFile(`schedule-${name}`, { schedule: { enabled: true } });
    const values = mergeValues(chartValues(), readValues(file)) as { config: unknown };
    const config = parseConfig(values.config);
    const standing = (await render('sdb', ns, [file, schedule])).filter(
      (o) => o.metadata.name.endsWith('-scheduled') && !o.metadata.annotations?.['helm.sh/hook'],
    );
    const granted = grantsOf(standing);
    const install = config.argocd.install.source !== 'skip';
    const required = driftPermissions(config, {
      runNamespace: ns,
      manifestKinds: install ? manifestKinds(config.argocd.version) : [],
      virtualServiceApiVersion:
        config.argocd.virtualService.enabled === false ? undefined : 'networking.istio.io/v1',
      credentialsNamespace: config.git.credentials.secretRef.namespace ?? ns,
    }).map((p: Permission) => ({
      verb: p.verb,
      group: p.group,
      resource: p.resource,
      scope: p.namespace ?? '*',
      ...(p.names ? { names: p.names } : {}),
    }));
    const same = (g: Grant, p: Grant) =>
      g.verb === p.verb &&
      g.group === p.group &&
      g.resource === p.resource &&
      (g.scope === '*' || g.scope === p.scope);
    const grantsName = (g: Grant, p: Grant, n?: string) =>
      same(g, p) && (!g.names || (n !== undefined && g.names.includes(n)));
    const isGranted = (p: Grant) =>
      p.names
        ? p.names.every((n) => granted.some((g) => grantsName(g, p, n)))
        : granted.some((g) => grantsName(g, p));
    expect(required.filter((p) => !isGranted(p)).map(grantKey), `${name}: not granted`).toEqual([]);
    const covers = (g: Grant, p: Grant) =>
      same(g, p) && (!g.names || (!!p.names && g.names.some((n) => p.names!.includes(n))));
    expect(
      granted.filter((g) => !required.some((p) => covers(g, p))).map(grantKey),
      `${name}: needless`,
    ).toEqual([]);
    const needlessNames = granted.flatMap((g) =>
      (g.names ?? [])
        .filter((n) => !required.some((p) => same(g, p) && p.names?.includes(n)))
        .map((n) => `${grantKey(g)} for ${n}`),
    );
    expect(needlessNames, `${name}: names granted but never used`).toEqual([]);
    // Nothing that can grant rights: no create, delete, bind, escalate, impersonate; writes only by name; in
    // Argo CD's namespace only get, and no Secret.
    expect(
      granted
        .filter((g) => ['create', 'delete', 'bind', 'escalate', 'impersonate', '*'].includes(g.verb))
        .map(grantKey),
    ).toEqual([]);
    expect(
      granted.filter((g) => !['get', 'list', 'watch'].includes(g.verb) && !g.names).map(grantKey),
    ).toEqual([]);
    expect(
      granted
        .filter((g) => g.scope === config.argocd.namespace && (g.verb !== 'get' || g.resource === 'secrets'))
        .map(grantKey),
    ).toEqual([]);
  });
});

describe("the program under the chart's ServiceAccount, with nothing but the chart's RBAC", () => {
  const id = uniqueName('x').slice(2);
  const ns = `chart-run-${id}`;
  const seldonNs = `chart-seldon-${id}`;
  const envNs = `chart-env-${id}`;
  const logsNs = `chart-logs-${id}`;
  const release = 'sdb';
  let kubeconfig: string;
  let keyDir: string;
  /** Every run's stdout and stderr. */
  const outputs: string[] = [];
  const overrides = {
    config: {
      argocd: { rolloutTimeout: '4m' },
      // No controller runs on KWOK (nothing syncs) and no Git server is reachable: neither is about RBAC.
      git: { verify: false },
      environments: { namespaces: [envNs], logging: { namespace: logsNs }, waitForSync: false },
      seldonDeploy: { namespace: seldonNs },
    },
  };

  /** The ServiceAccount and RBAC hooks Helm created last (the Job's run-time rights). */
  let hookObjects: K8sObject[] = [];

  /**
   * What Helm does with the chart's hooks just before the Job (which never really runs here): delete the
   * last ones (before-hook-creation), create the ServiceAccount and RBAC; then a fresh token of that
   * ServiceAccount for the CLI, as the Job's pod would carry.
   */
  async function createRunHooks(files: string[]): Promise<void> {
    await deleteObjects(hookObjects);
    const rendered = await render(release, ns, files, { lookup: true });
    // The pre-* hooks first (the Argo CD namespace, when absent): Helm never deletes it.
    const pre = rendered.filter((o) => o.metadata.annotations?.['helm.sh/hook']?.startsWith('pre-'));
    if (pre.length > 0)
      await kubectl(['create', '-f', '-'], {
        input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: pre }),
      });
    hookObjects = rendered.filter((o) => RBAC_KINDS.includes(o.kind));
    await kubectl(['create', '-f', '-'], {
      input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: hookObjects }),
    });
    kubeconfig = await serviceAccountKubeconfig(
      ns,
      `${release}-sd-gitops-bootstrap`,
      join(keyDir, 'kubeconfig'),
    );
  }

  /** Installs or upgrades the release without its hooks (pods do not run here) and runs the CLI as the Job would. */
  async function runAsJob(scenario: string) {
    const file = scenarios.find((s) => s.name === scenario)!.file;
    const files = [file, valuesFile(`run-${scenario}`, overrides)];
    await createRunHooks(files);
    await helmOk([
      'upgrade',
      '--install',
      release,
      CHART,
      '-n',
      ns,
      ...files.flatMap((f) => ['-f', f]),
      '--no-hooks',
      '--wait',
    ]);
    // The config file exactly as the Job mounts it.
    const configFile = writeConfig(`chart-${scenario}`, await renderedConfig(release, ns));
    const r = await runCli(['apply', '--config', configFile, '--output', 'json'], {
      kubeconfig,
      env: { POD_NAMESPACE: ns },
    });
    outputs.push(r.stdout, r.stderr);
    return r;
  }

  beforeAll(async () => {
    await ensureNamespace(ns);
    await ensureNamespace(seldonNs);
    createdNamespaces.push(envNs, logsNs);
    const source = unusedSourceSecret(ns, 'sd-chart-key-');
    await kubectl(['apply', '-f', '-'], { input: JSON.stringify(source.secret) });
    keyDir = source.keyDir;
  }, 120_000);

  afterAll(async () => {
    await helm(['uninstall', release, '-n', ns]);
    // Hooks are not release objects: what Helm's hook-succeeded would have deleted.
    await deleteObjects(hookObjects);
  });

  it('installs Argo CD (bundled v3.5.1) and reports ready', async () => {
    const r = await runAsJob('default');
    // The install's namespaced rights are a Role in the Argo CD namespace, not cluster-wide: while the
    // run's hooks exist, the ServiceAccount may write Deployments and Roles there and nowhere else.
    const sa = `system:serviceaccount:${ns}:${release}-sd-gitops-bootstrap`;
    const canI = async (verb: string, resource: string, namespace: string) =>
      (await kubectlResult(['auth', 'can-i', verb, resource, '-n', namespace, `--as=${sa}`])).stdout.trim();
    const elsewhere = envNs; // a namespace the run manages, but only as a namespace
    const answers = {
      argocd: [
        await canI('create', 'deployments.apps', 'argocd'),
        await canI('patch', 'configmaps', 'argocd'),
        // By name: the bundled manifest's Roles.
        await canI('escalate', 'roles.rbac.authorization.k8s.io/argocd-server', 'argocd'),
      ],
      elsewhere: [
        await canI('create', 'deployments.apps', elsewhere),
        await canI('patch', 'configmaps', elsewhere),
        await canI('create', 'secrets', elsewhere),
        await canI('create', 'serviceaccounts', elsewhere),
        await canI('escalate', 'roles.rbac.authorization.k8s.io', elsewhere),
        await canI('create', 'applications.argoproj.io', elsewhere),
      ],
    };
    expect(answers).toEqual({ argocd: ['yes', 'yes', 'yes'], elsewhere: Array(6).fill('no') });
    expect(notReady(r.report), r.stderr.slice(-3000)).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.report!.checks.find((c) => c.id === 'preflight.permissions')?.ready).toBe(true);
  }, 600_000);

  it('after helm upgrade to install.source skip: the smaller RBAC is enough, and ready', async () => {
    const r = await runAsJob('skip');
    expect(notReady(r.report), r.stderr.slice(-3000)).toEqual([]);
    expect(r.code).toBe(0);
    // The upgrade really took the install rights away.
    const cr = await kubectlJson<{ rules: { resources: string[]; verbs: string[] }[] }>([
      'get',
      'clusterrole',
      `${ns}-${release}-sd-gitops-bootstrap`,
    ]);
    expect(cr.rules.flatMap((x) => x.resources)).not.toContain('clusterroles');
    expect(cr.rules.flatMap((x) => x.verbs)).not.toContain('escalate');
  }, 600_000);

  it('no secret value in any output, the report or an Event: the generated password only in its Secret', async () => {
    const secretData = async (namespace: string, name: string) =>
      (await kubectlJson<{ data: Record<string, string> }>(['get', 'secret', name, '-n', namespace])).data;
    const text = (b64: string) => Buffer.from(b64, 'base64').toString('utf8');
    // The generated admin password, its bcrypt hash in argocd-secret and the SSH private key (each line
    // of its body, in the source Secret): nothing of them may appear outside their Secrets.
    const password = text((await secretData(ns, 'argocd-admin-password')).password!);
    const hash = text((await secretData('argocd', 'argocd-secret'))['admin.password']!);
    const key = text((await secretData(ns, 'gitops-source-creds'))['ssh-privatekey']!);
    const values = [password, hash, ...key.split('\n').filter((l) => l.trim() && !l.startsWith('-----'))];
    expect(values.length).toBeGreaterThan(3);
    const report = await dataOf('configmap', 'sd-gitops-bootstrap-report', ns);
    const events = await kubectl(['get', 'events', '-A', '-o', 'json']);
    const places = { outputs: outputs.join('\n'), report: JSON.stringify(report), events };
    expect(outputs.length).toBeGreaterThanOrEqual(4);
    const found = Object.entries(places).flatMap(([where, body]) =>
      values.filter((v) => body.includes(v)).map((v) => `${where}: ${v.slice(0, 4)}…`),
    );
    expect(found).toEqual([]);
  });

  it('loads the rendered config.yaml exactly as the program parses it', async () => {
    const text = await renderedConfig(release, ns);
    expect(() => parseConfig(load(text))).not.toThrow();
  });
});

/** The Job's run-time rights: the ServiceAccount, (Cluster)Roles and bindings, as rendered. */
const RBAC_KINDS = ['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding'];

describe('the ServiceAccount and RBAC are hooks just before the Job, deleted once it succeeded', () => {
  it.each(scenarios)('$name', async ({ file }) => {
    const objects = await render('sdb', 'seldon-system', [file]);
    const hook = (o: K8sObject) => {
      const a = o.metadata.annotations ?? {};
      return [a['helm.sh/hook'], a['helm.sh/hook-weight'], a['helm.sh/hook-delete-policy']];
    };
    const job = objects.find((o) => o.kind === 'Job')!;
    // The Job: after the release objects (its config ConfigMap), kept after it ran for `kubectl logs`.
    expect(hook(job)).toEqual(['post-install,post-upgrade', '0', 'before-hook-creation']);
    const rbac = objects.filter((o) => RBAC_KINDS.includes(o.kind));
    expect(new Set(rbac.map((o) => o.kind))).toEqual(new Set(RBAC_KINDS));
    // Same events as the Job (Helm deletes hook-succeeded hooks at the end of their own event), one
    // weight lower: created before it, deleted after it succeeded, replaced by the next run.
    for (const o of rbac)
      expect(hook(o), `${o.kind}/${o.metadata.name}`).toEqual([
        'post-install,post-upgrade',
        '-1',
        'before-hook-creation,hook-succeeded',
      ]);
    // The only release objects are the config ConfigMap (and the NetworkPolicy, there before the pod).
    const released = objects.filter((o) => !o.metadata.annotations?.['helm.sh/hook']);
    const np = (mergeValues(chartValues(), readValues(file)) as { networkPolicy: { enabled: boolean } })
      .networkPolicy.enabled;
    expect(released.map((o) => o.kind).sort()).toEqual(np ? ['ConfigMap', 'NetworkPolicy'] : ['ConfigMap']);
  });

  it('installing Argo CD: its namespace first, a pre-* hook Helm never deletes, only while it is absent', async () => {
    const argo = uniqueName('chart-argo').slice(0, 40);
    const files = [
      scenarios.find((s) => s.name === 'default')!.file,
      valuesFile('argo-ns', { config: { argocd: { namespace: argo } } }),
    ];
    const namespaces = async (lookup: boolean) =>
      (await render('sdb', 'seldon-system', files, { lookup })).filter((o) => o.kind === 'Namespace');
    const [ns] = await namespaces(true);
    expect(ns?.metadata.name).toBe(argo);
    // Before the RBAC hooks (post-*, weight -1) and the release objects; hook-failed is no deletion at all
    // (a Namespace cannot fail once created) and keeps Helm's default, before-hook-creation, away from it.
    expect(ns!.metadata.annotations).toEqual({
      'helm.sh/hook': 'pre-install,pre-upgrade',
      'helm.sh/hook-weight': '-2',
      'helm.sh/hook-delete-policy': 'hook-failed',
      // Made for this release: the run adopts it into its inventory (uninstall.enabled removes it).
      'sd-gitops-bootstrap/created-for': 'seldon-system',
    });
    // The Role of the run's namespaced rights lives there.
    const role = (await render('sdb', 'seldon-system', files)).find(
      (o) => o.kind === 'Role' && o.metadata.namespace === argo,
    );
    expect(role).toBeDefined();
    // Once it exists (the next upgrade) it is not rendered: a hook is created, never updated.
    await ensureNamespace(argo);
    expect(await namespaces(true)).toEqual([]);
    // With install.source skip Argo CD's namespace is someone else's: never created by the chart.
    const skip = await render('sdb', 'seldon-system', [scenarios.find((s) => s.name === 'skip')!.file]);
    expect(skip.filter((o) => o.kind === 'Namespace')).toEqual([]);
  });

  it('follow job.hookWeight, and keep the ServiceAccount annotations of the values', async () => {
    const base = scenarios.find((s) => s.name === 'default')!.file;
    const more = valuesFile('hook-weight', {
      job: { hookWeight: '7' },
      serviceAccount: { annotations: { 'example.com/role': 'gitops-bootstrap' } },
    });
    const objects = await render('sdb', 'seldon-system', [base, more]);
    const weight = (kind: string) =>
      objects.filter((o) => o.kind === kind).map((o) => o.metadata.annotations?.['helm.sh/hook-weight']);
    expect(weight('Job')).toEqual(['7']);
    for (const kind of RBAC_KINDS) expect(weight(kind).length).toBeGreaterThan(0);
    for (const kind of RBAC_KINDS) for (const w of weight(kind)) expect(w, kind).toBe('6');
    const sa = objects.find((o) => o.kind === 'ServiceAccount')!;
    expect(sa.metadata.annotations?.['example.com/role']).toBe('gitops-bootstrap');
  });

  it('serviceAccount.create false: the RBAC hooks bind the named ServiceAccount, none is created', async () => {
    const base = scenarios.find((s) => s.name === 'default')!.file;
    const own = valuesFile('own-sa', { serviceAccount: { create: false, name: 'mine' } });
    const objects = await render('sdb', 'seldon-system', [base, own]);
    expect(objects.filter((o) => o.kind === 'ServiceAccount')).toEqual([]);
    for (const b of objects.filter((o) => o.kind.endsWith('Binding'))) {
      expect((b as unknown as { subjects: { name: string }[] }).subjects.map((s) => s.name)).toEqual([
        'mine',
      ]);
      expect(b.metadata.annotations?.['helm.sh/hook-delete-policy']).toBe(
        'before-hook-creation,hook-succeeded',
      );
    }
  });
});

describe('privilege that ends with the run: after helm install and helm upgrade the ServiceAccount can do nothing', () => {
  // KWOK completes the hook Job's pod (without running it), so `helm install --wait` really succeeds and
  // Helm really deletes the hook-succeeded hooks; the program's run itself is proven above and on kind.
  const id = uniqueName('x').slice(2);
  const ns = `chart-priv-${id}`;
  const seldonNs = `chart-priv-seldon-${id}`;
  const release = 'sdb';
  const sa = `system:serviceaccount:${ns}:${release}-sd-gitops-bootstrap`;
  // Any ServiceAccount of the namespace that nothing binds: what every authenticated one may do.
  const nobody = `system:serviceaccount:${ns}:nobody`;
  let files: string[];
  let hooks: K8sObject[];

  beforeAll(async () => {
    await ensureNamespace(ns);
    await ensureNamespace(seldonNs);
    files = [
      scenarios.find((s) => s.name === 'default')!.file,
      valuesFile('priv', { config: { seldonDeploy: { namespace: seldonNs } } }),
    ];
    hooks = (await render(release, ns, files)).filter((o) => RBAC_KINDS.includes(o.kind));
  });

  afterAll(async () => {
    await helm(['uninstall', release, '-n', ns]);
  });

  const resourceOf = (kind: string) => `${kind.toLowerCase()}s`;

  /** Each hook object: created and deleted (by Helm) since `mark`, per the audit log (local cluster only). */
  function createdAndDeleted(mark: number): string[] {
    if (!target().auditLog) return [];
    const events = auditEvents({ since: mark });
    const count = (o: K8sObject, verb: string, code: number) =>
      events.filter(
        (e) =>
          e.verb === verb &&
          e.responseStatus?.code === code &&
          e.objectRef?.resource === resourceOf(o.kind) &&
          e.objectRef?.name === o.metadata.name &&
          (e.objectRef?.namespace ?? '') === (o.metadata.namespace ?? ''),
      ).length;
    return hooks
      .filter((o) => count(o, 'create', 201) !== 1 || count(o, 'delete', 200) !== 1)
      .map(
        (o) =>
          `${o.kind}/${o.metadata.name}: created ${count(o, 'create', 201)}, deleted ${count(o, 'delete', 200)}`,
      );
  }

  async function expectNothingLeft(): Promise<void> {
    const job = await kubectlJson<{ status: { succeeded?: number } }>([
      'get',
      'job',
      `${release}-sd-gitops-bootstrap`,
      '-n',
      ns,
    ]);
    expect(job.status.succeeded).toBe(1);
    // Every ServiceAccount, (Cluster)Role and binding the chart rendered is gone.
    for (const o of hooks) {
      const left = await kubectl([
        'get',
        `${o.kind.toLowerCase()}/${o.metadata.name}`,
        ...(o.metadata.namespace ? ['-n', o.metadata.namespace] : []),
        '--ignore-not-found',
        '-o',
        'name',
      ]);
      expect(left.trim(), `${o.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name}`).toBe('');
    }
    // What the run needed, one by one: all refused now.
    const checks: [string, string, string?][] = [
      ['create', 'clusterrolebindings'],
      ['escalate', 'clusterroles'],
      ['create', 'customresourcedefinitions'],
      ['patch', 'namespaces'],
      ['create', 'namespaces'],
      ['get', 'secrets', 'argocd'],
      ['patch', 'secrets', 'argocd'],
      ['get', 'secrets', ns],
      ['patch', 'secrets', seldonNs],
      ['patch', 'configmaps', ns],
      ['update', 'leases.coordination.k8s.io', ns],
    ];
    const allowed: string[] = [];
    for (const [verb, resource, namespace] of checks) {
      const r = await kubectlResult([
        'auth',
        'can-i',
        verb,
        resource,
        ...(namespace ? ['-n', namespace] : []),
        `--as=${sa}`,
      ]);
      if (r.stdout.trim() !== 'no')
        allowed.push(`${verb} ${resource} ${namespace ?? '(cluster)'}: ${r.stdout.trim()}`);
    }
    expect(allowed).toEqual([]);
    // And everything at once: exactly what a ServiceAccount nothing binds may do (self-reviews, discovery).
    for (const namespace of [ns, seldonNs, 'argocd']) {
      const list = async (as: string) =>
        (await kubectlResult(['auth', 'can-i', '--list', '-n', namespace, `--as=${as}`])).stdout;
      expect(await list(sa), namespace).toEqual(await list(nobody));
    }
  }

  /** `helm install|upgrade --wait`; each hook object was created and deleted in the run, and none is left. */
  async function runAndExpectNothingLeft(verb: 'install' | 'upgrade'): Promise<void> {
    const mark = auditMark();
    await helmOk([
      verb,
      release,
      CHART,
      '-n',
      ns,
      ...files.flatMap((f) => ['-f', f]),
      '--wait',
      '--timeout',
      '3m',
    ]);
    expect(createdAndDeleted(mark)).toEqual([]);
    await expectNothingLeft();
  }

  it('helm install --wait: the hooks ran, and nothing of the RBAC is left', async () => {
    await runAndExpectNothingLeft('install');
  });

  it('helm upgrade creates them for its run and deletes them again', async () => {
    await runAndExpectNothingLeft('upgrade');
  });
});
