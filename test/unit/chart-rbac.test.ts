/**
 * The chart's RBAC is what the program's steps declare (`Step.needs`, collected by the preflight), scenario
 * by scenario, with the real `helm template` (offline, as for a first install; the pinned helm of
 * tools/cluster/build.sh, or E2E_BIN_DIR's):
 * - the hook Job's ClusterRole and Roles grant every permission STEPS declare, and nothing (no verb, no
 *   name) that none of them needs; what can be named is granted by name; cluster-wide only what is
 *   cluster-scoped; with `install.source: skip`, no CRD write, ClusterRole, escalate or bind;
 * - with `schedule.enabled`, the standing RBAC of the CronJob grants exactly what DRIFT_STEPS declare, and
 *   nothing that can grant rights.
 * The rules are written once in Helm's template language (helm/…/_helpers.tpl, which also reads the
 * inventory with `lookup`) and once as the steps' declarations; this test holds the two together.
 */
import { join } from 'node:path';
import { beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { parseConfig } from '../../src/config/load.ts';
import { batchEnvironments } from '../../src/manifests/batch.ts';
import { argocdKey, ensureUpstream } from '../../src/manifests/upstream.ts';
import { toolsBin } from '../../tools/cluster/bin.ts';
import { KUBE_VERSION } from '../../tools/versions.ts';
import {
  chartValues,
  ciScenarios,
  driftGrants,
  type Grant,
  grantKey,
  grantsOf,
  mergeValues,
  readValues,
  renderOffline,
  requiredGrants,
  valuesFile,
} from '../support/chart.ts';

const scenarios = ciScenarios();
let helmBin: string | undefined;
let missing = '';

beforeAll(async () => {
  try {
    helmBin = join(process.env.E2E_BIN_DIR ?? toolsBin(), 'helm');
  } catch (err) {
    missing = (err as Error).message.split('\n')[0] ?? String(err);
  }
  // The bundled manifests the declarations are computed from (cached outside the repository; fetched and
  // verified when missing).
  for (const { file } of scenarios) {
    const key = argocdKey(
      parseConfig((mergeValues(chartValues(), readValues(file)) as { config: unknown }).config).argocd
        .version,
    );
    if (key) await ensureUpstream(key);
  }
}, 600_000);

/** helm built (CI builds it before the tests); elsewhere without Go the test is skipped, saying why. */
function helmReady(ctx: TestContext): boolean {
  if (helmBin) return true;
  if (process.env.CI) throw new Error(`helm could not be built: ${missing}`);
  ctx.skip(`helm not built (needs Go on PATH; tools/cluster/build.sh): ${missing}`);
  return false;
}

describe("the chart's RBAC is exactly what the program's preflight asks for", () => {
  it.for(scenarios)('$name', async ({ name, file }, ctx) => {
    if (!helmReady(ctx)) return;
    const ns = 'seldon-system';
    const values = mergeValues(chartValues(), readValues(file)) as { config: unknown };
    const config = parseConfig(values.config);
    const granted = grantsOf(await renderOffline(helmBin!, KUBE_VERSION, 'sdb', ns, [file]));
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
  it.for(scenarios)('$name', async ({ name, file }, ctx) => {
    if (!helmReady(ctx)) return;
    const ns = 'seldon-system';
    const schedule = valuesFile(`schedule-${name}`, { schedule: { enabled: true } });
    const values = mergeValues(chartValues(), readValues(file)) as { config: unknown };
    const config = parseConfig(values.config);
    const standing = (await renderOffline(helmBin!, KUBE_VERSION, 'sdb', ns, [file, schedule])).filter(
      (o) => o.metadata.name.endsWith('-scheduled') && !o.metadata.annotations?.['helm.sh/hook'],
    );
    const granted = grantsOf(standing);
    const required = driftGrants(config, ns);
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
