/** The RBAC evaluator: rule matching, resources of kinds, permissions deduplicated. */
import { describe, expect, it } from 'vitest';
import { dedupePermissions, describePermission, resourceOf, ruleGrants } from './rbac.ts';

describe('rbac', () => {
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
  it('plural resources', () => {
    expect(['NetworkPolicy', 'Ingress', 'Deployment', 'Gateway'].map(resourceOf)).toEqual([
      'networkpolicies',
      'ingresses',
      'deployments',
      'gateways',
    ]);
  });

  it('one permission per description: names united, and one without names (any name) wins', () => {
    const get = { verb: 'get', group: '', resource: 'secrets', namespace: 'argocd' };
    expect(
      dedupePermissions([
        { ...get, names: ['a'] },
        { ...get, names: ['b', 'a'] },
      ]),
    ).toEqual([{ ...get, names: ['a', 'b'] }]);
    expect(dedupePermissions([{ ...get, names: ['a'] }, get, { ...get, names: ['c'] }])).toEqual([get]);
    expect(describePermission({ ...get, or: [{ verb: '*', group: '*', resource: '*' }] })).toBe(
      'get secrets in argocd or * */* (cluster-wide)',
    );
  });
});
