import { describe, expect, it } from 'vitest';
import { sampleConfig } from '../../test/fixtures/sample-config.ts';
import type { KubeObject } from '../kube/types.ts';
import { loadArgocdManifest } from './argocd.ts';
import { applyImageSettings, rewriteImage } from './registry.ts';

const settings = (over: Partial<ReturnType<typeof sampleConfig>['argocd']['images']> = {}) => ({
  map: {},
  pullSecrets: [],
  ...over,
});

describe('rewriteImage', () => {
  const mirror = settings({ registry: 'registry.example.com:5000/mirror' });

  it.each([
    ['quay.io/argoproj/argocd:v3.5.1', 'registry.example.com:5000/mirror/argoproj/argocd:v3.5.1'],
    [
      'public.ecr.aws/docker/library/redis:8.2.3-alpine',
      'registry.example.com:5000/mirror/docker/library/redis:8.2.3-alpine',
    ],
    ['redis:7.2.11-alpine', 'registry.example.com:5000/mirror/library/redis:7.2.11-alpine'],
    ['bitnami/redis', 'registry.example.com:5000/mirror/bitnami/redis'],
    ['localhost:5000/a/b:1', 'registry.example.com:5000/mirror/a/b:1'],
    [
      `ghcr.io/dexidp/dex@sha256:${'a'.repeat(64)}`,
      `registry.example.com:5000/mirror/dexidp/dex@sha256:${'a'.repeat(64)}`,
    ],
    [
      `ghcr.io/dexidp/dex:v2@sha256:${'b'.repeat(64)}`,
      `registry.example.com:5000/mirror/dexidp/dex:v2@sha256:${'b'.repeat(64)}`,
    ],
  ])('registry prefix: %s → %s (path, tag and digest kept)', (from, to) => {
    expect(rewriteImage(from, mirror)).toBe(to);
  });

  it('the map wins over the prefix, by the repository as written or as resolved', () => {
    const s = settings({
      registry: 'registry.example.com/mirror',
      map: {
        'quay.io/argoproj/argocd': 'registry.example.com/platform/argocd',
        'docker.io/library/redis': 'registry.example.com/cache/redis',
      },
    });
    expect(rewriteImage('quay.io/argoproj/argocd:v3.5.1', s)).toBe(
      'registry.example.com/platform/argocd:v3.5.1',
    );
    expect(rewriteImage('redis:7', s)).toBe('registry.example.com/cache/redis:7');
    expect(rewriteImage('ghcr.io/dexidp/dex:v2.45.0', s)).toBe(
      'registry.example.com/mirror/dexidp/dex:v2.45.0',
    );
    // Map only: the rest unchanged.
    expect(rewriteImage('ghcr.io/dexidp/dex:v2.45.0', settings({ map: s.map }))).toBe(
      'ghcr.io/dexidp/dex:v2.45.0',
    );
  });
});

describe('applyImageSettings', () => {
  const deployment = (): KubeObject => ({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'd', namespace: 'argocd' },
    spec: {
      template: {
        spec: {
          imagePullSecrets: [{ name: 'existing' }],
          initContainers: [{ name: 'i', image: 'quay.io/argoproj/argocd:v3.5.1' }],
          containers: [{ name: 'c', image: 'ghcr.io/dexidp/dex:v2.45.0' }],
        },
      },
    },
  });

  it('no settings: the same objects, untouched', () => {
    const objects = [deployment()];
    expect(applyImageSettings(objects, settings())).toBe(objects);
    expect(applyImageSettings(objects, undefined)).toBe(objects);
  });

  it('rewrites containers and initContainers, adds the pull Secrets once, copies rather than mutates', () => {
    const input = deployment();
    const cm: KubeObject = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cm' } };
    const [out, same] = applyImageSettings(
      [input, cm],
      settings({ registry: 'mirror.example.com', pullSecrets: ['existing', 'registry-creds'] }),
    );
    expect(same).toBe(cm);
    const pod = (out as unknown as { spec: { template: { spec: Record<string, unknown> } } }).spec.template
      .spec;
    expect(pod.initContainers).toEqual([{ name: 'i', image: 'mirror.example.com/argoproj/argocd:v3.5.1' }]);
    expect(pod.containers).toEqual([{ name: 'c', image: 'mirror.example.com/dexidp/dex:v2.45.0' }]);
    expect(pod.imagePullSecrets).toEqual([{ name: 'existing' }, { name: 'registry-creds' }]);
    expect(JSON.stringify(input)).toContain('quay.io/argoproj/argocd');
  });

  it.each(['standard', 'ha'] as const)(
    'bundled v3.5.1 %s: every pod template of the manifest gets the pull Secret, no image keeps its registry',
    async (profile) => {
      const config = sampleConfig((c) => {
        c.argocd.install.profile = profile;
        c.argocd.images = {
          registry: 'registry.example.com/mirror',
          map: {},
          pullSecrets: ['registry-creds'],
        };
      });
      const { objects } = await loadArgocdManifest(config.argocd);
      const templates = objects.filter((o) => o.kind === 'Deployment' || o.kind === 'StatefulSet');
      expect(templates.length).toBeGreaterThanOrEqual(7);
      for (const o of templates) {
        const pod = (o as unknown as { spec: { template: { spec: { imagePullSecrets?: unknown } } } }).spec
          .template.spec;
        expect(pod.imagePullSecrets, o.metadata.name).toEqual([{ name: 'registry-creds' }]);
      }
      const text = JSON.stringify(objects);
      for (const upstream of ['quay.io/', 'ghcr.io/', 'public.ecr.aws/'])
        expect(text).not.toContain(`"image":"${upstream}`);
    },
  );
});
