/**
 * The preflight's permissions: what the steps of a run declare (`Step.needs`), collected; reviewed against
 * SelfSubjectRulesReviews with a constant number of requests.
 */
import { describe, expect, it } from 'vitest';
import { FakeKube } from '../../test/fakes/kube.ts';
import { sampleConfig } from '../../test/fixtures/sample-config.ts';
import type { Config } from '../config/types.ts';
import { describePermission, missingPermissions } from '../kube/rbac.ts';
import type { FullNeedsInputs } from './context.ts';
import { permissionsOf } from './preflight.ts';
import { STEPS } from './runner.ts';

type PermissionInputs = Omit<FullNeedsInputs, 'run'>;

/** Every permission of `apply`/`plan` (the hook Job): what STEPS declare, with the preflight's own. */
const requiredPermissions = (config: Config, inputs: PermissionInputs) =>
  permissionsOf(STEPS, config, { run: 'full', ...inputs });

describe('preflight with rules reviews', () => {
  const base = {
    mode: 'apply' as const,
    runNamespace: 'seldon-system',
    manifestKinds: [],
    virtualServiceApiVersion: undefined,
    adminPasswordNamespace: 'seldon-system',
    createAdminPasswordSecret: false,
    credentialsNamespace: 'seldon-system',
  };
  const config = () => {
    const c = sampleConfig();
    c.environments.namespaces = Array.from({ length: 40 }, (_, i) => ({
      name: `env-${i}`,
      restricted: false,
    }));
    return c;
  };

  it('asks one rules review per namespace (and one cluster-wide), whatever the number of environments', async () => {
    const reviewed: string[] = [];
    let asked = 0;
    const kube = {
      rules: async (ns: string) => {
        reviewed.push(ns);
        return { rules: [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }], incomplete: false };
      },
      can: async () => {
        asked++;
        return false;
      },
    } as unknown as FakeKube;
    expect(await missingPermissions(kube, requiredPermissions(config(), base))).toEqual([]);
    expect(asked).toBe(0);
    expect(reviewed.filter((ns) => ns.startsWith('sd-gitops-bootstrap-no-such-namespace-'))).toHaveLength(1);
    expect(reviewed.filter((ns) => !ns.startsWith('sd-gitops-bootstrap-no-such-namespace-')).sort()).toEqual([
      'argocd',
      'seldon-system',
    ]);
  });

  it('rules by name grant those names only; what they do not grant is asked, and a refusal listed', async () => {
    const asked: string[] = [];
    const kube = {
      rules: async (ns: string) => ({
        rules: ns.startsWith('sd-gitops-bootstrap-no-such-namespace-')
          ? [
              {
                verbs: ['get', 'patch'],
                apiGroups: [''],
                resources: ['namespaces'],
                resourceNames: ['env-1'],
              },
              { verbs: ['*'], apiGroups: ['argoproj.io', 'apiextensions.k8s.io', ''], resources: ['*'] },
            ]
          : [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }],
        incomplete: false,
      }),
      can: async (a: { verb: string; resource: string; name?: string }) => {
        asked.push(`${a.verb} ${a.resource} ${a.name ?? '*'}`);
        return a.name !== 'env-7';
      },
    } as unknown as FakeKube;
    const missing = await missingPermissions(kube, requiredPermissions(config(), base));
    expect(missing).toEqual([]);
    // The '' group rule grants every namespace, so nothing about namespaces is asked.
    expect(asked).toEqual([]);

    const narrow = {
      ...kube,
      rules: async () => ({
        rules: [
          {
            verbs: ['get', 'patch', 'create'],
            apiGroups: [''],
            resources: ['namespaces'],
            resourceNames: ['env-1'],
          },
        ],
        incomplete: false,
      }),
    } as unknown as FakeKube;
    const refused = await missingPermissions(narrow, requiredPermissions(config(), base));
    expect(refused).toContain('patch namespaces (cluster-wide) for env-7');
    expect(asked).not.toContain('patch namespaces env-1');
    expect(asked).toContain('patch namespaces env-2');
  });
});

describe('permissions', () => {
  const base: PermissionInputs = {
    mode: 'apply',
    runNamespace: 'seldon-system',
    manifestKinds: [
      { apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition' },
      { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole' },
      { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding' },
      { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy' },
      { apiVersion: 'apps/v1', kind: 'Deployment' },
    ],
    virtualServiceApiVersion: 'networking.istio.io/v1',
    adminPasswordNamespace: 'seldon-system',
    createAdminPasswordSecret: true,
    credentialsNamespace: 'seldon-system',
  };
  const described = (inputs: PermissionInputs) =>
    requiredPermissions(sampleConfig(), inputs).map(describePermission);

  it('lists what the install, the settings, the environments, the Lease and the report need', () => {
    const perms = described(base);
    expect(perms).toEqual(
      expect.arrayContaining([
        'create apiextensions.k8s.io/customresourcedefinitions (cluster-wide)',
        'patch networking.k8s.io/networkpolicies in argocd',
        'escalate rbac.authorization.k8s.io/clusterroles (cluster-wide) or * */* (cluster-wide)',
        'bind rbac.authorization.k8s.io/clusterroles (cluster-wide) or * */* (cluster-wide)',
        'patch networking.istio.io/virtualservices in argocd',
        'create secrets in seldon-system',
        'get secrets in seldon-system',
        'patch argoproj.io/applications in argocd',
        'patch namespaces (cluster-wide)',
        'update coordination.k8s.io/leases in seldon-system',
        'patch configmaps in seldon-system',
      ]),
    );
    expect(new Set(perms).size).toBe(perms.length);
  });

  it('skip needs far fewer; plan needs no Lease', () => {
    const skip = described({ ...base, manifestKinds: [], virtualServiceApiVersion: undefined });
    expect(skip.length).toBeLessThan(described(base).length - 10);
    expect(
      skip.some((p) => p.includes('customresourcedefinitions (cluster-wide)') && p.startsWith('create')),
    ).toBe(false);
    expect(skip.some((p) => p.includes('clusterroles'))).toBe(false);
    expect(described({ ...base, mode: 'plan' }).some((p) => p.includes('leases'))).toBe(false);
  });

  it('an alternative grant satisfies a permission', async () => {
    const kube = new FakeKube();
    kube.denied.add('escalate rbac.authorization.k8s.io/clusterroles ');
    const perms = requiredPermissions(sampleConfig(), base);
    expect(await missingPermissions(kube, perms)).toEqual([]);
    kube.denied.add('* */* ');
    expect(await missingPermissions(kube, perms)).toEqual([
      'escalate rbac.authorization.k8s.io/clusterroles (cluster-wide) or * */* (cluster-wide)',
    ]);
  });

  it('namespaces are read and patched by name (the chart grants them by resourceNames); create is any name', () => {
    const perms = requiredPermissions(sampleConfig(), base).filter((p) => p.resource === 'namespaces');
    const config = sampleConfig();
    const envs = config.environments.namespaces.map((n) => n.name);
    const logs = config.environments.logging.enabled ? [config.environments.logging.namespace] : [];
    const byVerb = Object.fromEntries(perms.map((p) => [p.verb, p.names]));
    expect(Object.keys(byVerb).sort()).toEqual(['create', 'get', 'patch']);
    expect(byVerb.create).toBeUndefined();
    expect(byVerb.patch?.sort()).toEqual(['argocd', ...envs, ...logs].sort());
    // Seldon Deploy's namespace is only read (it must exist).
    expect(byVerb.get?.sort()).toEqual(['argocd', ...envs, ...logs, config.seldonDeploy.namespace].sort());
    // skip: Argo CD's namespace is not applied.
    const skip = requiredPermissions(sampleConfig(), { ...base, manifestKinds: [] });
    expect(skip.find((p) => p.resource === 'namespaces' && p.verb === 'patch')?.names).not.toContain(
      'argocd',
    );
  });

  it('Secrets are read and patched only by name, in every namespace', () => {
    const config = sampleConfig();
    const secrets = requiredPermissions(config, {
      ...base,
      manifestKinds: [
        ...base.manifestKinds,
        { apiVersion: 'v1', kind: 'Secret', name: 'argocd-notifications-secret' },
      ],
    }).filter((p) => p.resource === 'secrets');
    expect(secrets.filter((p) => p.verb !== 'create' && !p.names).map(describePermission)).toEqual([]);
    const names = (verb: string, ns: string) =>
      secrets.find((p) => p.verb === verb && p.namespace === ns)?.names?.sort();
    expect(names('patch', 'argocd')).toEqual(
      ['argocd-notifications-secret', 'argocd-secret', 'sd-gitops-bootstrap-repo'].sort(),
    );
    // The run namespace: the admin password (generated: patched too), the credentials; Seldon's git-creds.
    expect(names('get', 'seldon-system')).toEqual(
      [
        config.argocd.adminPassword.secretRef.name,
        config.git.credentials.secretRef.name,
        config.seldonDeploy.gitCredentialsSecret,
      ].sort(),
    );
  });

  it('a permission by name is reviewed name by name; the refused names are listed', async () => {
    const asked: string[] = [];
    const kube = {
      can: async (a: { verb: string; resource: string; name?: string }) => {
        if (a.resource === 'namespaces') asked.push(`${a.verb} ${a.name ?? '*'}`);
        return !(a.verb === 'patch' && a.name === 'production');
      },
    } as unknown as FakeKube;
    const perms = requiredPermissions(sampleConfig(), base);
    expect(await missingPermissions(kube, perms)).toEqual(['patch namespaces (cluster-wide) for production']);
    expect(asked).toContain('patch staging');
    expect(asked).toContain('create *');
  });
});
