/**
 * `apply --scope drift`, the scheduled run: its permissions can grant nothing, and on the fake cluster it sets
 * back an environment namespace's label, reports (and never writes) a hand edit in the Argo CD namespace.
 */
import { describe, expect, it } from 'vitest';
import type { FakeKube } from '../../test/fakes/kube.ts';
import { sampleConfig } from '../../test/fixtures/sample-config.ts';
import {
  credentialsCluster as cluster,
  RUN_ENV as ENV,
  environmentsGit as fakeGit,
} from '../../test/fixtures/step-run.ts';
import type { Config } from '../config/types.ts';
import type { KubeObject, ObjectRef } from '../kube/types.ts';
import { createLogger } from '../log.ts';
import { createContext, type Scope } from './context.ts';
import { permissionsOf } from './preflight.ts';
import { DRIFT_STEPS, runSteps, STEPS } from './runner.ts';

const WRITES = ['create', 'update', 'patch', 'delete', 'deletecollection', 'bind', 'escalate', 'impersonate'];

describe("the drift run's permissions (DRIFT_STEPS): what the scheduled identity may do", () => {
  const manifestKinds = [
    { apiVersion: 'v1', kind: 'Secret', name: 'argocd-secret' },
    { apiVersion: 'v1', kind: 'ConfigMap', name: 'argocd-cm' },
    { apiVersion: 'apps/v1', kind: 'Deployment', name: 'argocd-server' },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', name: 'argocd-server' },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', name: 'argocd-server' },
    {
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      name: 'applications.argoproj.io',
    },
  ];
  const perms = (config: Config = sampleConfig()) =>
    permissionsOf(DRIFT_STEPS, config, {
      run: 'drift',
      runNamespace: 'seldon-system',
      manifestKinds,
      virtualServiceApiVersion: 'networking.istio.io/v1',
      credentialsNamespace: 'seldon-system',
    });

  it('no create, delete, bind, escalate or impersonate; writes only by name; nothing but get in Argo CD’s namespace, no Secret there', () => {
    const all = perms();
    expect(
      all.filter((p) => ['create', 'delete', 'bind', 'escalate', 'impersonate'].includes(p.verb)),
    ).toEqual([]);
    expect(all.filter((p) => WRITES.includes(p.verb) && !p.names)).toEqual([]);
    expect(all.filter((p) => p.namespace === 'argocd' && p.verb !== 'get')).toEqual([]);
    expect(all.filter((p) => p.namespace === 'argocd' && p.resource === 'secrets')).toEqual([]);
    expect(all.filter((p) => p.group === 'rbac.authorization.k8s.io' && p.verb !== 'get')).toEqual([]);
    expect(all.filter((p) => p.resource === 'customresourcedefinitions')).toEqual([]);
    // What it writes, by name: the environment namespaces, git-creds, the report, the Lease.
    expect(
      all
        .filter((p) => WRITES.includes(p.verb))
        .map((p) => `${p.verb} ${p.resource} ${p.namespace ?? '*'} ${p.names!.join(',')}`)
        .sort(),
    ).toEqual(
      [
        'patch configmaps seldon-system sd-gitops-bootstrap-report',
        'patch namespaces * staging,production,seldon-logs',
        'patch secrets seldon-system git-creds',
        'update leases seldon-system sd-gitops-bootstrap',
      ].sort(),
    );
  });
});

function context(kube: FakeKube, scope: Scope) {
  return createContext({
    mode: 'apply',
    scope,
    config: sampleConfig(),
    env: ENV,
    kube,
    log: createLogger({ level: 'silent' }),
    deps: { git: fakeGit, pollIntervalMs: 10 },
  });
}

const find = (kube: FakeKube, kind: string, name: string, namespace?: string) =>
  [...kube.objects.values()].find(
    (o) => o.kind === kind && o.metadata.name === name && o.metadata.namespace === namespace,
  ) as (KubeObject & { data?: Record<string, string> }) | undefined;

describe('apply --scope drift on the fake cluster', () => {
  it('sets back an environment namespace’s label; reports a hand edit of argocd-cmd-params-cm and an Application, writing neither', async () => {
    const kube = cluster();
    const full = await runSteps(context(kube, 'full'), STEPS);
    expect(full.failed).toBeUndefined();
    // Hand edits.
    find(kube, 'Namespace', 'staging')!.metadata.labels!['seldon.gitops'] = 'disabled';
    const cm = find(kube, 'ConfigMap', 'argocd-cmd-params-cm', 'argocd')!;
    const rootpath = cm.data!['server.rootpath'];
    cm.data = { ...cm.data, 'server.rootpath': '/elsewhere' };
    const app = find(kube, 'Application', 'seldon-gitops-staging', 'argocd') as KubeObject & {
      spec: { destination: { namespace: string } };
    };
    app.spec.destination.namespace = 'kube-system';

    // Every object the drift run reads or writes.
    const touched: { verb: string; ref: ObjectRef }[] = [];
    const get = kube.get.bind(kube);
    kube.get = async <T extends KubeObject = KubeObject>(ref: ObjectRef) => {
      touched.push({ verb: 'get', ref });
      return get<T>(ref);
    };
    const applyAll = kube.applyAll.bind(kube);
    kube.applyAll = async (objs, opts) => {
      for (const o of objs)
        touched.push({
          verb: opts?.dryRun ? 'dry-run' : 'apply',
          ref: {
            apiVersion: o.apiVersion,
            kind: o.kind,
            name: o.metadata.name,
            namespace: o.metadata.namespace,
          },
        });
      return applyAll(objs, opts);
    };
    const writesBefore = kube.stats.writes;
    const ctx = context(kube, 'drift');
    const drift = await runSteps(ctx, DRIFT_STEPS);
    expect(drift.failed).toBeUndefined();

    expect(find(kube, 'Namespace', 'staging')!.metadata.labels!['seldon.gitops']).toBe('enabled');
    expect(find(kube, 'ConfigMap', 'argocd-cmd-params-cm', 'argocd')!.data!['server.rootpath']).toBe(
      '/elsewhere',
    );
    expect(rootpath).not.toBe('/elsewhere');
    expect(app.spec.destination.namespace).toBe('kube-system');
    const notReady = drift.checks.filter((c) => c.required && !c.ready);
    expect(notReady.map((c) => c.id).sort()).toEqual(
      [
        'drift.application.argocd.seldon-gitops-staging',
        'drift.configmap.argocd.argocd-cmd-params-cm',
      ].sort(),
    );
    for (const c of notReady) expect(c.message).toContain('run `helm upgrade` to repair');
    expect(notReady.find((c) => c.id === 'drift.configmap.argocd.argocd-cmd-params-cm')!.message).toContain(
      'data.server.rootpath',
    );
    // Applied (a PATCH only where something differs): the environment namespaces and git-creds, nothing
    // else; written: the namespace set back and the Lease (taken, released). Never a read of a Secret in
    // the Argo CD namespace.
    expect(
      touched
        .filter((t) => t.verb !== 'get')
        .map((t) => `${t.ref.kind}/${t.ref.name}`)
        .sort(),
    ).toEqual(['Namespace/production', 'Namespace/seldon-logs', 'Namespace/staging', 'Secret/git-creds']);
    expect(kube.stats.writes - writesBefore).toBe(3);
    expect(touched.filter((t) => t.ref.kind === 'Secret' && t.ref.namespace === 'argocd')).toEqual([]);
  });

  it('a drift run on a converged cluster: ready, nothing written but the Lease', async () => {
    const kube = cluster();
    await runSteps(context(kube, 'full'), STEPS);
    const before = kube.stats.writes;
    const drift = await runSteps(context(kube, 'drift'), DRIFT_STEPS);
    expect(drift.checks.filter((c) => c.required && !c.ready)).toEqual([]);
    // The Lease: taken and released (two writes); nothing else.
    expect(kube.stats.writes - before).toBe(2);
  });
});
