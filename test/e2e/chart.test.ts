/**
 * The Helm chart on the KWOK cluster (a real API server with RBAC and admission; pods do not run here —
 * the hook Job really runs in test/e2e-real-node/chart.test.ts):
 * - `helm lint --strict` passes for every ci/*-values.yaml scenario;
 * - every object `helm template` renders is accepted by the API server (server-side dry-run), the Job
 *   without a Pod Security "restricted" warning;
 * - values.schema.json rejects bad values before anything is installed;
 * - the chart's RBAC is exactly the permission list of the program's preflight, scenario by scenario;
 * - the program, run under the chart's own ServiceAccount with nothing but the chart's RBAC, converges to
 *   a ready report: installing Argo CD, then with `install.source: skip` (after `helm upgrade`).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { load } from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.ts';
import type { Config } from '../../src/config/types.ts';
import { type Permission, requiredPermissions } from '../../src/steps/preflight.ts';
import { runCli, writeConfig } from './support/bootstrap.ts';
import {
  CHART,
  chartValues,
  ciScenarios,
  type Grant,
  grantKey,
  grantsOf,
  helm,
  helmOk,
  kubectlResult,
  manifestKinds,
  mergeValues,
  readValues,
  render,
  valuesFile,
} from './support/helm.ts';
import { kubectl, kubectlJson, serviceAccountKubeconfig, uniqueName } from './support/target.ts';

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
    const objects = await render('sdb', ns, [file]);
    expect(new Set(objects.map((o) => o.kind))).toEqual(
      new Set([
        'ServiceAccount',
        'ConfigMap',
        'ClusterRole',
        'ClusterRoleBinding',
        'Role',
        'RoleBinding',
        'Job',
      ]),
    );
    // Roles go to namespaces that exist before `helm install` (e.g. the Argo CD one with `skip`).
    for (const o of objects) if (o.metadata.namespace) await ensureNamespace(o.metadata.namespace);
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
    const covers = (g: Grant, p: Grant) =>
      g.verb === p.verb &&
      g.group === p.group &&
      g.resource === p.resource &&
      (g.scope === '*' || g.scope === p.scope);
    const missing = required.filter((p) => !granted.some((g) => covers(g, p))).map(grantKey);
    expect(missing, `${name}: not granted`).toEqual([]);
    // …and nothing is granted that no required permission needs (least privilege).
    const needless = granted.filter((g) => !required.some((p) => covers(g, p))).map(grantKey);
    expect(needless, `${name}: granted but never used`).toEqual([]);

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

describe("the program under the chart's ServiceAccount, with nothing but the chart's RBAC", () => {
  const id = uniqueName('x').slice(2);
  const ns = `chart-run-${id}`;
  const seldonNs = `chart-seldon-${id}`;
  const envNs = `chart-env-${id}`;
  const logsNs = `chart-logs-${id}`;
  const release = 'sdb';
  let kubeconfig: string;
  const overrides = {
    config: {
      argocd: { rolloutTimeout: '4m' },
      // No controller runs on KWOK (nothing syncs) and no Git server is reachable: neither is about RBAC.
      git: { verify: false },
      environments: { namespaces: [envNs], logging: { namespace: logsNs }, waitForSync: false },
      seldonDeploy: { namespace: seldonNs },
    },
  };

  /** Installs or upgrades the release without its hook (pods do not run here) and runs the CLI as the Job would. */
  async function runAsJob(scenario: string) {
    const file = scenarios.find((s) => s.name === scenario)!.file;
    await helmOk([
      'upgrade',
      '--install',
      release,
      CHART,
      '-n',
      ns,
      '-f',
      file,
      '-f',
      valuesFile(`run-${scenario}`, overrides),
      '--no-hooks',
      '--wait',
    ]);
    // The config file exactly as the Job mounts it.
    const cm = await kubectlJson<{ data: Record<string, string> }>([
      'get',
      'configmap',
      `${release}-sd-gitops-bootstrap-config`,
      '-n',
      ns,
    ]);
    const configFile = writeConfig(`chart-${scenario}`, cm.data['config.yaml']!);
    return runCli(['apply', '--config', configFile, '--output', 'json'], {
      kubeconfig,
      env: { POD_NAMESPACE: ns },
    });
  }

  beforeAll(async () => {
    await ensureNamespace(ns);
    await ensureNamespace(seldonNs);
    createdNamespaces.push(envNs, logsNs);
    const dir = mkdtempSync(join(tmpdir(), 'sd-chart-key-'));
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'key')]);
    const hostKey = readFileSync(join(dir, 'key.pub'), 'utf8').split(' ').slice(0, 2).join(' ');
    await kubectl(['apply', '-f', '-'], {
      input: JSON.stringify({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'gitops-source-creds', namespace: ns },
        type: 'kubernetes.io/ssh-auth',
        stringData: {
          'ssh-privatekey': readFileSync(join(dir, 'key'), 'utf8'),
          known_hosts: `git.example.com ${hostKey}\n`,
        },
      }),
    });
    // The ServiceAccount exists once the release does; its token is what the Job's pod would carry.
    await helmOk([
      'install',
      release,
      CHART,
      '-n',
      ns,
      '-f',
      scenarios[0]!.file,
      '-f',
      valuesFile('sa', overrides),
      '--no-hooks',
    ]);
    kubeconfig = await serviceAccountKubeconfig(
      ns,
      `${release}-sd-gitops-bootstrap`,
      join(dir, 'kubeconfig'),
    );
  }, 120_000);

  afterAll(async () => {
    await helm(['uninstall', release, '-n', ns]);
  });

  it('installs Argo CD (bundled v3.5.1) and reports ready', async () => {
    const r = await runAsJob('default');
    const failed = (r.report?.checks ?? [])
      .filter((c) => c.required && !c.ready)
      .map((c) => `${c.id}: ${c.message}`);
    expect(failed, r.stderr.slice(-3000)).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.report!.checks.find((c) => c.id === 'preflight.permissions')?.ready).toBe(true);
  }, 600_000);

  it('after helm upgrade to install.source skip: the smaller RBAC is enough, and ready', async () => {
    const r = await runAsJob('skip');
    const failed = (r.report?.checks ?? [])
      .filter((c) => c.required && !c.ready)
      .map((c) => `${c.id}: ${c.message}`);
    expect(failed, r.stderr.slice(-3000)).toEqual([]);
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

  it('loads the rendered config.yaml exactly as the program parses it', async () => {
    const cm = await kubectlJson<{ data: Record<string, string> }>([
      'get',
      'configmap',
      `${release}-sd-gitops-bootstrap-config`,
      '-n',
      ns,
    ]);
    expect(() => parseConfig(load(cm.data['config.yaml']!))).not.toThrow();
  });
});
