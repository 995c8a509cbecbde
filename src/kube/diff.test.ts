import { describe, expect, it } from 'vitest';
import { diffObjects, diffPaths, stripServerFields } from './diff.ts';

const cm = (data: Record<string, string>, extra: Record<string, unknown> = {}) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: 'argocd-cmd-params-cm', namespace: 'argocd', ...extra },
  data,
});

describe('diffPaths', () => {
  it.each([
    { name: 'equal scalars', a: 1, b: 1, want: [] },
    { name: 'changed scalar', a: { x: 1 }, b: { x: 2 }, want: ['x'] },
    { name: 'type change', a: { x: '1' }, b: { x: 1 }, want: ['x'] },
    { name: 'object vs scalar', a: { x: { y: 1 } }, b: { x: 'y' }, want: ['x'] },
    { name: 'null vs value', a: { x: null }, b: { x: 1 }, want: ['x'] },
    {
      name: 'keys containing dots are joined as they are',
      a: { data: { 'server.rootpath': '/' } },
      b: { data: { 'server.rootpath': '/argocd' } },
      want: ['data.server.rootpath'],
    },
    {
      name: 'an added label when there were no labels at all',
      a: { metadata: { name: 'n' } },
      b: { metadata: { name: 'n', labels: { 'seldon.gitops': 'enabled' } } },
      want: ['metadata.labels.seldon.gitops'],
    },
    {
      name: 'a removed key',
      a: { data: { a: '1', b: '2' } },
      b: { data: { a: '1' } },
      want: ['data.b'],
    },
    {
      name: 'a large added subtree is reported as one path',
      a: { spec: {} },
      b: { spec: { template: { a: 1, b: 2, c: 3, d: 4 } } },
      want: ['spec.template'],
    },
    {
      name: 'arrays of scalars by index',
      a: { spec: { sourceRepos: ['a', 'b'] } },
      b: { spec: { sourceRepos: ['a', 'c'] } },
      want: ['spec.sourceRepos[1]'],
    },
    {
      name: 'arrays of different length as a whole',
      a: { spec: { sourceRepos: ['a'] } },
      b: { spec: { sourceRepos: ['a', 'b'] } },
      want: ['spec.sourceRepos'],
    },
    {
      name: 'named lists by name',
      a: {
        containers: [
          { name: 'server', image: 'a:1' },
          { name: 'sidecar', image: 's:1' },
        ],
      },
      b: {
        containers: [
          { name: 'server', image: 'a:2' },
          { name: 'sidecar', image: 's:1' },
        ],
      },
      want: ['containers[server].image'],
    },
    {
      name: 'an item added to a named list',
      a: { env: [{ name: 'A', value: '1' }] },
      b: {
        env: [
          { name: 'A', value: '1' },
          { name: 'B', value: '2' },
        ],
      },
      want: ['env[B]'],
    },
    {
      name: 'a reordered named list as a whole',
      a: { env: [{ name: 'A' }, { name: 'B' }] },
      b: { env: [{ name: 'B' }, { name: 'A' }] },
      want: ['env'],
    },
    {
      name: 'several changes, sorted',
      a: { z: 1, a: { b: 1, c: 2 } },
      b: { z: 2, a: { b: 2, c: 2 } },
      want: ['a.b', 'z'],
    },
  ])('$name', ({ a, b, want }) => {
    expect(diffPaths(a, b)).toEqual(want);
  });
});

describe('diffObjects', () => {
  it('ignores server-owned metadata and status', () => {
    const live = cm(
      { 'server.insecure': 'true' },
      {
        resourceVersion: '1',
        uid: 'u1',
        generation: 1,
        creationTimestamp: '2024-01-01T00:00:00Z',
        managedFields: [{ manager: 'kubectl' }],
      },
    );
    const dry = {
      ...cm({ 'server.insecure': 'true' }, { resourceVersion: '2', uid: 'u1', generation: 2 }),
      status: {},
    };
    expect(diffObjects(live, dry)).toEqual([]);
  });

  it('reports the changed data key of a ConfigMap', () => {
    expect(diffObjects(cm({ 'server.rootpath': '' }), cm({ 'server.rootpath': '/argocd' }))).toEqual([
      'data.server.rootpath',
    ]);
  });

  it('names Secret keys, never values', () => {
    const secret = (data: Record<string, string>) => ({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 's' },
      data,
    });
    const fields = diffObjects(secret({ password: 'b2xk' }), secret({ password: 'bmV3', token: 'dA==' }));
    expect(fields).toEqual(['data.password', 'data.token']);
    expect(fields.join(' ')).not.toMatch(/b2xk|bmV3|dA==/);
  });
});

describe('stripServerFields', () => {
  it('does not modify its input', () => {
    const obj = cm({}, { resourceVersion: '5' });
    const stripped = stripServerFields(obj);
    expect(obj.metadata).toHaveProperty('resourceVersion', '5');
    expect(stripped.metadata).not.toHaveProperty('resourceVersion');
  });
});
