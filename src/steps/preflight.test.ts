/** The preflight's permission check against SelfSubjectRulesReviews: a constant number of requests. */
import { describe, expect, it } from 'vitest';
import type { FakeKube } from '../../test/fakes/kube.ts';
import { sampleConfig } from '../../test/fixtures/sample-config.ts';
import { missingPermissions, requiredPermissions, ruleGrants } from './preflight.ts';

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

  it('ruleGrants: verbs, groups, resources and names, with wildcards', () => {
    const p = { verb: 'patch', group: 'apps', resource: 'deployments', namespace: 'argocd' };
    expect(
      ruleGrants({ verbs: ['patch'], apiGroups: ['apps'], resources: ['deployments'] }, p, undefined),
    ).toBe(true);
    expect(ruleGrants({ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }, p, undefined)).toBe(true);
    expect(
      ruleGrants({ verbs: ['get'], apiGroups: ['apps'], resources: ['deployments'] }, p, undefined),
    ).toBe(false);
    expect(ruleGrants({ verbs: ['patch'], apiGroups: [''], resources: ['deployments'] }, p, undefined)).toBe(
      false,
    );
    const named = { verbs: ['patch'], apiGroups: ['apps'], resources: ['deployments'], resourceNames: ['a'] };
    expect(ruleGrants(named, p, 'a')).toBe(true);
    expect(ruleGrants(named, p, 'b')).toBe(false);
    expect(ruleGrants(named, p, undefined)).toBe(false);
    // A verb of '*' (full access) is granted only by a rule of '*'.
    expect(
      ruleGrants(
        { verbs: ['get', 'patch'], apiGroups: ['*'], resources: ['*'] },
        { ...p, verb: '*' },
        undefined,
      ),
    ).toBe(false);
  });
});
