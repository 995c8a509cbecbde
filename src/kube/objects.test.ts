import { describe, expect, it } from 'vitest';
import { describeRef, groupOf, includesDesired, overlay, refKey } from './objects.ts';

describe('object helpers', () => {
  it('includesDesired ignores what the server added', () => {
    expect(includesDesired({ a: 1, b: { c: [1, { d: 2, e: 3 }] }, x: 9 }, { b: { c: [1, { d: 2 }] } })).toBe(
      true,
    );
    expect(includesDesired({ a: [1, 2] }, { a: [1] })).toBe(false);
    expect(includesDesired({ automated: { enabled: true } }, { automated: {} })).toBe(true);
    expect(includesDesired(undefined, { a: 1 })).toBe(false);
  });

  it('overlay merges maps and replaces lists', () => {
    expect(overlay({ a: { b: 1, c: [1, 2] }, d: 1 }, { a: { c: [3], e: 2 } })).toEqual({
      a: { b: 1, c: [3], e: 2 },
      d: 1,
    });
  });

  it('names an object one way, its group only where asked (plan)', () => {
    const ref = { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'argocd', name: 'argocd-server' };
    expect(describeRef(ref)).toBe('Deployment argocd/argocd-server');
    expect(describeRef(ref, { group: true })).toBe('Deployment.apps argocd/argocd-server');
    expect(describeRef({ apiVersion: 'v1', kind: 'Namespace', name: 'argocd' }, { group: true })).toBe(
      'Namespace argocd',
    );
    expect(groupOf('v1')).toBe('');
    expect(groupOf('rbac.authorization.k8s.io/v1')).toBe('rbac.authorization.k8s.io');
    expect(refKey({ ...ref, apiVersion: 'apps/v1beta2' })).toBe(refKey(ref));
  });
});
