import { describe, expect, it } from 'vitest';
import { appliesNothing } from './fields.ts';
import type { KubeObject } from './types.ts';

const body: KubeObject = {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: {
    name: 'argocd-server',
    namespace: 'argocd',
    labels: { app: 'server' },
    annotations: null as never,
  },
  spec: {
    replicas: 1,
    template: {
      spec: { containers: [{ name: 'server', image: 'argocd:v3', args: ['a', 'b'], resources: {} }] },
    },
  },
};

const fieldsV1 = {
  'f:metadata': { 'f:labels': { 'f:app': {} } },
  'f:spec': {
    'f:replicas': {},
    'f:template': {
      'f:spec': {
        'f:containers': {
          'k:{"name":"server"}': { '.': {}, 'f:name': {}, 'f:image': {}, 'f:args': {}, 'f:resources': {} },
        },
      },
    },
  },
};

function live(over: Partial<KubeObject> = {}, fields: unknown = fieldsV1): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: 'argocd-server',
      namespace: 'argocd',
      resourceVersion: '7',
      labels: { app: 'server', 'someone-else': 'x' },
      managedFields: [
        { manager: 'sd-gitops-bootstrap', operation: 'Apply', apiVersion: 'apps/v1', fieldsV1: fields },
        {
          manager: 'kube-controller-manager',
          operation: 'Update',
          apiVersion: 'apps/v1',
          fieldsV1: { 'f:status': {} },
        },
      ],
    },
    spec: {
      replicas: 1,
      revisionHistoryLimit: 10,
      template: {
        spec: {
          containers: [
            {
              name: 'server',
              image: 'argocd:v3',
              args: ['a', 'b'],
              resources: {},
              imagePullPolicy: 'Always',
            },
          ],
        },
      },
    },
    status: { replicas: 1 },
    ...over,
  };
}

describe('appliesNothing', () => {
  it('is true when the manager owns exactly the fields sent and the live values are those', () => {
    expect(appliesNothing(live(), body, 'sd-gitops-bootstrap')).toBe(true);
  });

  it('is false when a value differs, or the list differs', () => {
    const other = structuredClone(body);
    (other.spec as { replicas: number }).replicas = 2;
    expect(appliesNothing(live(), other, 'sd-gitops-bootstrap')).toBe(false);
    const args = structuredClone(body);
    (
      args.spec as { template: { spec: { containers: { args: string[] }[] } } }
    ).template.spec.containers[0]!.args.push('c');
    expect(appliesNothing(live(), args, 'sd-gitops-bootstrap')).toBe(false);
  });

  it('is false when the body no longer sends a field the manager owns (the apply would remove it)', () => {
    const fewer = structuredClone(body);
    delete fewer.metadata.labels;
    expect(appliesNothing(live(), fewer, 'sd-gitops-bootstrap')).toBe(false);
  });

  it('is false for another manager, another apiVersion, or no entry', () => {
    expect(appliesNothing(live(), body, 'someone')).toBe(false);
    expect(appliesNothing(live(), { ...body, apiVersion: 'apps/v1beta2' }, 'sd-gitops-bootstrap')).toBe(
      false,
    );
    expect(appliesNothing(live({ metadata: { name: 'argocd-server' } }), body, 'sd-gitops-bootstrap')).toBe(
      false,
    );
  });

  it('ignores defaults the server adds inside values owned whole, and key fields it adds', () => {
    const svcBody: KubeObject = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'redis', namespace: 'argocd' },
      spec: { ports: [{ name: 'tcp', port: 6379 }], selector: { app: 'redis' } },
      env: [{ name: 'NS', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } }],
    };
    const svcLive: KubeObject = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: {
        name: 'redis',
        namespace: 'argocd',
        managedFields: [
          {
            manager: 'm',
            operation: 'Apply',
            apiVersion: 'v1',
            fieldsV1: {
              'f:spec': {
                'f:ports': { 'k:{"port":6379,"protocol":"TCP"}': { '.': {}, 'f:name': {}, 'f:port': {} } },
                'f:selector': {},
              },
              'f:env': {
                'k:{"name":"NS"}': { '.': {}, 'f:name': {}, 'f:valueFrom': { '.': {}, 'f:fieldRef': {} } },
              },
            },
          },
        ],
      },
      spec: {
        ports: [{ name: 'tcp', port: 6379, protocol: 'TCP', targetPort: 6379 }],
        selector: { app: 'redis' },
      },
      env: [{ name: 'NS', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } } }],
    };
    expect(appliesNothing(svcLive, svcBody, 'm')).toBe(true);
    const moved = structuredClone(svcBody);
    (moved.env as { valueFrom: { fieldRef: { fieldPath: string } } }[])[0]!.valueFrom.fieldRef.fieldPath =
      'x';
    expect(appliesNothing(svcLive, moved, 'm')).toBe(false);
    const more = structuredClone(svcBody);
    (more.spec as { ports: unknown[] }).ports.push({ name: 'b', port: 1 });
    expect(appliesNothing(svcLive, more, 'm')).toBe(false);
  });
});
