import { describe, expect, it } from 'vitest';
import type { ObjectChange } from '../kube/types.ts';
import { describeChanges, formatPlan, planJson } from './changes.ts';

const CHANGES: ObjectChange[] = [
  { ref: { apiVersion: 'v1', kind: 'Namespace', name: 'argocd' }, action: 'created' },
  {
    ref: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'argocd-server', namespace: 'argocd' },
    action: 'updated',
    fields: ['spec.template.metadata.annotations.sd-gitops-bootstrap/server-config-hash'],
  },
  {
    ref: { apiVersion: 'v1', kind: 'ConfigMap', name: 'argocd-cm', namespace: 'argocd' },
    action: 'unchanged',
  },
  {
    ref: { apiVersion: 'argoproj.io/v1alpha1', kind: 'AppProject', name: 'seldon', namespace: 'argocd' },
    action: 'created',
    note: 'its CRD does not exist yet: not dry-run',
  },
];

describe('plan output', () => {
  it('text: one line per object and a summary', () => {
    expect(formatPlan(CHANGES)).toMatchInlineSnapshot(`
      "+ create    Namespace argocd
      ~ update    Deployment.apps argocd/argocd-server (spec.template.metadata.annotations.sd-gitops-bootstrap/server-config-hash)
      = unchanged ConfigMap argocd/argocd-cm
      + create    AppProject.argoproj.io argocd/seldon — its CRD does not exist yet: not dry-run

      Plan: 2 to create, 1 to update, 1 unchanged.
      "
    `);
  });

  it('json: the change list', () => {
    expect(JSON.parse(planJson(CHANGES))).toMatchObject({ kind: 'Plan', version: 1, changes: CHANGES });
  });
});

describe('progress line', () => {
  const ref = (name: string) => ({ apiVersion: 'v1', kind: 'A', name });
  it('describes a step’s changes for its progress line', () => {
    const changes: ObjectChange[] = [
      { ref: ref('a'), action: 'created' },
      { ref: ref('b'), action: 'unchanged' },
      { ref: ref('c'), action: 'unchanged' },
    ];
    expect(describeChanges(changes, 'apply')).toBe('1 created, 2 unchanged');
    expect(describeChanges(changes, 'plan')).toBe('1 to create, 2 unchanged');
    expect(describeChanges([], 'apply')).toBe('');
  });
});
