/**
 * `helm uninstall` with `uninstall.enabled` on the KWOK tier: pods do not run here, so — as
 * test/e2e/chart.test.ts does for the install hooks — the test plays Helm: it creates the chart's hooks (the
 * apply ServiceAccount and RBAC, later the pre-delete ones), and runs the CLI exactly as each Job would, under
 * that hook's ServiceAccount with nothing but the chart's RBAC. Afterwards the cluster is as before the install:
 * the same namespaces (but the environment one the bootstrap created, given back), CRDs, ClusterRoles and
 * objects in the namespaces the user owns; the user's own objects untouched.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unusedSourceSecret } from '../support/ssh-keys.ts';
import { runCli, writeConfig } from './support/bootstrap.ts';
import { CHART, deleteObjects, helm, helmOk, type K8sObject, render, valuesFile } from './support/helm.ts';
import { dataOf, kubectl, kubectlJson, serviceAccountKubeconfig, uniqueName } from './support/target.ts';

const id = uniqueName('u').slice(2);
const ns = `un-${id}`; // the release namespace
const argoNs = `un-argocd-${id}`; // created by the bootstrap
const seldonNs = `un-seldon-${id}`;
const envOwn = `un-own-${id}`; // the user's namespace, made an environment
const envNew = `un-new-${id}`; // created by the bootstrap
const release = 'sdb';
let keyDir: string;
let values: string;

const cleanup: string[] = [];

type Item = { kind: string; metadata: { name: string; namespace?: string }; status?: { phase?: string } };

/** What "the state of the cluster" means here: names of everything that matters, cluster-wide and in the user's namespaces. */
async function snapshot(): Promise<string[]> {
  const out: string[] = [];
  const cluster = await kubectlJson<{ items: Item[] }>([
    'get',
    'namespaces,customresourcedefinitions,clusterroles,clusterrolebindings',
  ]);
  // A namespace another test file left terminating is on its way out, whatever this test does.
  for (const o of cluster.items)
    if (!(o.kind === 'Namespace' && o.status?.phase === 'Terminating'))
      out.push(`${o.kind}/${o.metadata.name}`);
  for (const n of [ns, seldonNs, envOwn]) {
    const items = await kubectlJson<{ items: Item[] }>([
      'get',
      'configmaps,secrets,serviceaccounts,roles,rolebindings,leases',
      '-n',
      n,
    ]);
    for (const o of items.items) out.push(`${o.kind}/${n}/${o.metadata.name}`);
  }
  return out
    .filter((k) => !k.startsWith(`Namespace/${envNew}`)) // given back, by design: see below
    .filter((k) => !/\/kube-root-ca\.crt$/.test(k))
    .sort();
}

/** The hooks of `event` but Jobs; installing, the pre-install ones (Argo CD's namespace) first, as Helm does. */
async function createHooks(event: 'post-install' | 'pre-delete'): Promise<K8sObject[]> {
  const rendered = await render(release, ns, [values], { lookup: true });
  const of = (e: string) =>
    rendered.filter((o) => o.metadata.annotations?.['helm.sh/hook']?.includes(e) && o.kind !== 'Job');
  const objects = event === 'post-install' ? [...of('pre-install'), ...of(event)] : of(event);
  await kubectl(['create', '-f', '-'], {
    input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }),
  });
  return objects;
}

async function runAs(serviceAccount: string, args: string[]) {
  const kubeconfig = await serviceAccountKubeconfig(
    ns,
    serviceAccount,
    join(keyDir, `${serviceAccount}.kubeconfig`),
  );
  const cm = await dataOf('configmap', `${release}-sd-gitops-bootstrap-config`, ns);
  const configFile = writeConfig(`uninstall-${args[0]}`, cm['config.yaml']!);
  return runCli([...args, '--config', configFile, '--output', 'json'], {
    kubeconfig,
    env: { POD_NAMESPACE: ns },
  });
}

beforeAll(async () => {
  for (const n of [ns, seldonNs, envOwn]) await kubectl(['create', 'namespace', n]);
  cleanup.push(ns, seldonNs, envOwn, envNew, argoNs);
  await kubectl(['label', 'namespace', envOwn, 'team=ml']);
  await kubectl(['create', 'configmap', 'users-own', '-n', envOwn, '--from-literal=k=v']);
  const source = unusedSourceSecret(ns, 'sd-uninstall-key-');
  keyDir = source.keyDir;
  await kubectl(['apply', '-f', '-'], { input: JSON.stringify(source.secret) });
  values = valuesFile('uninstall', {
    uninstall: { enabled: true },
    config: {
      argocd: { namespace: argoNs, rolloutTimeout: '4m', virtualService: { enabled: false } },
      git: { repoUrl: 'ssh://git@git.example.com/acme/gitops.git', verify: false },
      environments: {
        namespaces: [envOwn, envNew],
        logging: { enabled: false },
        waitForSync: false,
      },
      seldonDeploy: { namespace: seldonNs },
    },
  });
}, 120_000);

afterAll(async () => {
  await helm(['uninstall', release, '-n', ns, '--no-hooks']);
  for (const n of cleanup) await kubectl(['delete', 'namespace', n, '--wait=false', '--ignore-not-found']);
});

describe('helm uninstall with uninstall.enabled', () => {
  it('renders a pre-delete Job running `uninstall --yes` and its own short-lived RBAC hooks', async () => {
    const objects = (await render(release, ns, [values])).filter(
      (o) => o.metadata.annotations?.['helm.sh/hook'] === 'pre-delete',
    );
    expect(objects.map((o) => o.kind).sort()).toEqual(
      [
        'ClusterRole',
        'ClusterRoleBinding',
        'Job',
        // the run, Seldon Deploy's and Argo CD's namespaces
        'Role',
        'RoleBinding',
        'Role',
        'RoleBinding',
        'Role',
        'RoleBinding',
        'ServiceAccount',
      ].sort(),
    );
    for (const o of objects)
      expect(o.metadata.annotations?.['helm.sh/hook-delete-policy']).toBe(
        o.kind === 'Job' ? 'before-hook-creation' : 'before-hook-creation,hook-succeeded',
      );
    const job = objects.find((o) => o.kind === 'Job') as K8sObject & {
      spec: { template: { spec: { containers: { args: string[] }[]; serviceAccountName: string } } };
    };
    expect(job.spec.template.spec.containers[0]!.args).toEqual(['uninstall', '--yes']);
    expect(job.spec.template.spec.serviceAccountName).toBe(`${release}-sd-gitops-bootstrap-uninstall`);
    // The same pod as the install Job's (uninstall-job.yaml is job.yaml with another ServiceAccount and args).
    const install = (await render(release, ns, [values])).find(
      (o) => o.kind === 'Job' && o.metadata.annotations?.['helm.sh/hook'] === 'post-install,post-upgrade',
    ) as typeof job;
    const comparable = (j: typeof job) => {
      const spec = structuredClone(j.spec.template.spec) as Record<string, unknown> &
        typeof j.spec.template.spec;
      delete (spec as Record<string, unknown>).serviceAccountName;
      for (const c of spec.containers) delete (c as Record<string, unknown>).args;
      return spec;
    };
    expect(comparable(job)).toEqual(comparable(install));
  });

  it('removes what the install created and nothing else: the cluster is as before', async () => {
    const before = await snapshot();
    const applyHooks = await createHooks('post-install');
    await helmOk(['install', release, CHART, '-n', ns, '-f', values, '--no-hooks']);
    const applied = await runAs(`${release}-sd-gitops-bootstrap`, ['apply']);
    expect(applied.code, applied.stderr.slice(-3000)).toBe(0);
    // hook-succeeded (Argo CD's namespace, a hook-failed-only hook, stays: it is Argo CD's now)
    await deleteObjects(
      applyHooks.filter((o) =>
        o.metadata.annotations?.['helm.sh/hook-delete-policy']?.includes('hook-succeeded'),
      ),
    );
    expect(await kubectl(['get', 'deployment', 'argocd-server', '-n', argoNs, '-o', 'name'])).toContain(
      'argocd-server',
    );

    const uninstallHooks = await createHooks('pre-delete');
    const res = await runAs(`${release}-sd-gitops-bootstrap-uninstall`, ['uninstall', '--yes']);
    expect(res.code, `${res.stdout}\n${res.stderr.slice(-3000)}`).toBe(0);
    expect(res.report?.ready).toBe(true);
    expect(
      res.report?.removed?.some((r) =>
        r.startsWith(`Application ${argoNs}/seldon-gitops-${envOwn}: deleted`),
      ),
    ).toBe(true);
    await deleteObjects(uninstallHooks);
    await helmOk(['uninstall', release, '-n', ns, '--no-hooks']);

    // Argo CD's namespace goes (the namespace controller empties it first): a namespace still there
    // after the wait fails the test, naming what holds it (its status conditions).
    await kubectl(['wait', '--for=delete', `namespace/${argoNs}`, '--timeout=120s']).catch(async (err) => {
      const left = await kubectlJson<{
        metadata: { deletionTimestamp?: string };
        status?: { phase?: string; conditions?: { type: string; status: string; message?: string }[] };
      }>(['get', 'namespace', argoNs]).catch(() => undefined);
      if (!left) return; // gone between the wait's last look and this one
      const why = (left.status?.conditions ?? [])
        .filter((c) => c.status === 'True')
        .map((c) => `${c.type}: ${c.message ?? ''}`);
      throw new Error(
        `namespace ${argoNs} not deleted (phase ${left.status?.phase}, deletionTimestamp ${left.metadata.deletionTimestamp ?? 'none'}): ${why.join('; ') || (err as Error).message}`,
      );
    });
    const after = await snapshot();
    expect(after.filter((k) => !before.includes(k))).toEqual([]);
    expect(before.filter((k) => !after.includes(k))).toEqual([]);

    // The user's namespace and object: untouched, but for the labels the bootstrap set.
    const own = await kubectlJson<{
      metadata: { labels: Record<string, string>; annotations?: Record<string, string> };
    }>(['get', 'namespace', envOwn]);
    expect(own.metadata.labels.team).toBe('ml');
    expect(own.metadata.labels['seldon.gitops']).toBeUndefined();
    expect(own.metadata.annotations?.['git-repo']).toBeUndefined();
    expect(await kubectl(['get', 'configmap', 'users-own', '-n', envOwn, '-o', 'name'])).toContain(
      'users-own',
    );
    // The environment namespace the bootstrap created is given back, not deleted (it may hold workloads).
    const created = await kubectlJson<{ metadata: { labels: Record<string, string> } }>([
      'get',
      'namespace',
      envNew,
    ]);
    expect(created.metadata.labels['seldon.gitops']).toBeUndefined();
  });
});

describe('schedule.enabled: the same run as a CronJob, with standing RBAC', () => {
  it('renders a Forbid CronJob with the hook Job’s pod and the same rules, as ordinary release objects', async () => {
    const scheduled = valuesFile('scheduled', { schedule: { enabled: true, cron: '*/30 * * * *' } });
    const objects = await render(release, ns, [values, scheduled]);
    type PodJob = K8sObject & {
      spec: { template: { spec: { serviceAccountName: string; containers: { args: string[] }[] } } };
    };
    const cron = objects.find((o) => o.kind === 'CronJob') as K8sObject & {
      spec: { schedule: string; concurrencyPolicy: string; jobTemplate: PodJob };
    };
    expect(cron.spec).toMatchObject({ schedule: '*/30 * * * *', concurrencyPolicy: 'Forbid' });
    expect(cron.metadata.annotations?.['helm.sh/hook']).toBeUndefined();
    const job = objects.find(
      (o) => o.kind === 'Job' && o.metadata.annotations?.['helm.sh/hook'] === 'post-install,post-upgrade',
    ) as PodJob;
    const pod = (j: PodJob) => {
      const spec = structuredClone(j.spec.template.spec) as Record<string, unknown>;
      delete spec.serviceAccountName;
      return spec;
    };
    expect(pod(cron.spec.jobTemplate)).toEqual(pod(job));
    expect(cron.spec.jobTemplate.spec.template.spec.serviceAccountName).toBe(
      `${release}-sd-gitops-bootstrap-scheduled`,
    );
    const standing = objects.filter((o) => o.metadata.name.endsWith('-scheduled') && o.kind !== 'CronJob');
    expect(standing.map((o) => o.kind).sort()).toEqual(
      expect.arrayContaining(['ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding', 'ServiceAccount']),
    );
    for (const o of standing) expect(o.metadata.annotations?.['helm.sh/hook']).toBeUndefined();
    const hookRole = objects.find(
      (o) =>
        o.kind === 'ClusterRole' && o.metadata.annotations?.['helm.sh/hook'] === 'post-install,post-upgrade',
    ) as K8sObject & { rules: unknown[] };
    const standingRole = standing.find((o) => o.kind === 'ClusterRole') as K8sObject & { rules: unknown[] };
    expect(standingRole.rules).toEqual(hookRole.rules);
    // The API server accepts them (server-side dry-run), once the pre-install hook has created Argo CD's
    // namespace (the Role there is one of them) as it does before Helm creates the release's objects.
    await kubectl(['create', 'namespace', argoNs]).catch(() => {});
    const r = await kubectl(['apply', '--server-side', '--dry-run=server', '-f', '-'], {
      input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [cron, ...standing] }),
    });
    expect(r.trim().split('\n').length).toBe(standing.length + 1);
  });
});
