import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../kube/types.ts';
import { ownedBy, projectFields, withOwnedFields } from './ownership.ts';

const live: KubeObject = {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: {
    name: 'argocd-server',
    namespace: 'argocd',
    labels: { 'app.kubernetes.io/name': 'argocd-server', 'added-by-someone': 'x' },
    annotations: { 'deployment.kubernetes.io/revision': '3' },
    managedFields: [
      {
        manager: 'sd-gitops-bootstrap',
        operation: 'Apply',
        fieldsV1: {
          'f:metadata': { 'f:labels': { 'f:app.kubernetes.io/name': {} } },
          'f:spec': {
            'f:selector': {},
            'f:template': {
              'f:spec': {
                'f:containers': {
                  'k:{"name":"argocd-server"}': {
                    '.': {},
                    'f:name': {},
                    'f:args': {},
                    'f:env': {
                      'k:{"name":"B"}': { '.': {}, 'f:name': {}, 'f:value': {} },
                      'k:{"name":"A"}': { '.': {}, 'f:name': {}, 'f:value': {} },
                    },
                  },
                },
              },
            },
          },
        },
      },
      { manager: 'kube-controller-manager', operation: 'Update', fieldsV1: { 'f:status': {} } },
    ],
  },
  spec: {
    replicas: 2,
    selector: { matchLabels: { app: 'argocd-server' } },
    template: {
      spec: {
        containers: [
          {
            name: 'argocd-server',
            image: 'quay.io/argoproj/argocd:v3.5.1',
            args: ['/usr/local/bin/argocd-server'],
            env: [
              { name: 'A', value: '1' },
              { name: 'X', value: 'not ours' },
              { name: 'B', value: '2' },
            ],
          },
        ],
      },
    },
  },
  status: { replicas: 2 },
};

describe('field ownership', () => {
  it('projects what our manager owns, lists in live order, nothing of other managers', () => {
    expect(ownedBy(live)).toEqual({
      metadata: { labels: { 'app.kubernetes.io/name': 'argocd-server' } },
      spec: {
        selector: { matchLabels: { app: 'argocd-server' } },
        template: {
          spec: {
            containers: [
              {
                name: 'argocd-server',
                args: ['/usr/local/bin/argocd-server'],
                env: [
                  { name: 'A', value: '1' },
                  { name: 'B', value: '2' },
                ],
              },
            ],
          },
        },
      },
    });
  });

  it('set values and atomic leaves', () => {
    expect(
      projectFields({ finalizers: ['a', 'b', 'c'] }, { 'f:finalizers': { 'v:"c"': {}, 'v:"a"': {} } }),
    ).toEqual({
      finalizers: ['a', 'c'],
    });
  });

  it('withOwnedFields: the patch on top of what we own, so applying it removes nothing', () => {
    const patch: KubeObject = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'argocd-server', namespace: 'argocd' },
      spec: { template: { metadata: { annotations: { h: '1' } } } },
    };
    const merged = withOwnedFields(live, patch) as KubeObject & { spec: Record<string, unknown> };
    expect(merged.metadata).toEqual({
      name: 'argocd-server',
      namespace: 'argocd',
      labels: { 'app.kubernetes.io/name': 'argocd-server' },
    });
    expect(merged.spec.selector).toEqual({ matchLabels: { app: 'argocd-server' } });
    expect((merged.spec.template as Record<string, unknown>).metadata).toEqual({ annotations: { h: '1' } });
    expect(merged.spec.replicas).toBeUndefined();
  });

  it('without an Apply entry of ours: the patch alone', () => {
    const patch: KubeObject = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'c', namespace: 'n' },
      data: { a: '1' },
    };
    expect(withOwnedFields(null, patch)).toBe(patch);
    expect(withOwnedFields({ ...live, metadata: { ...live.metadata, managedFields: [] } }, patch)).toBe(
      patch,
    );
  });
});
